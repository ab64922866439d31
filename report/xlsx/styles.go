package xlsx

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"lms-backup/report/model"
)

// styles are the style IDs, all created in Begin. Index [bold] picks
// the plain (0) or bold (1) variant; money and percent are also indexed by
// decimals.
type styles struct {
	title    int
	header   int
	text     [2]int
	integer  [2]int
	date     [2]int
	datetime [2]int
	money    [2][maxDecimals + 1]int
	percent  [2][maxDecimals + 1]int
}

func decimalsFmt(dec int) string {
	if dec <= 0 {
		return "0"
	}
	return "0." + strings.Repeat("0", dec)
}

func (w *Writer) newStyles() error {
	f := w.f
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	rtl := 0
	if w.meta.RTL {
		rtl = 2 // reading order right-to-left
	}
	st := &w.st
	st.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}, Alignment: &excelize.Alignment{ReadingOrder: uint64(rtl)}})
	st.header = mk(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"D9E1F2"}},
		Border:    []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center", ReadingOrder: uint64(rtl)},
	})
	for b := 0; b < 2; b++ {
		font := &excelize.Font{Bold: b == 1}
		fmtStyle := func(code string) *excelize.Style {
			return &excelize.Style{Font: font, CustomNumFmt: &code}
		}
		st.text[b] = mk(&excelize.Style{Font: font})
		st.integer[b] = mk(fmtStyle("#,##0"))
		st.date[b] = mk(fmtStyle("yyyy-mm-dd"))
		st.datetime[b] = mk(fmtStyle("yyyy-mm-dd hh:mm:ss"))
		for d := 0; d <= maxDecimals; d++ {
			st.money[b][d] = mk(fmtStyle("#,##" + decimalsFmt(d)))
			st.percent[b][d] = mk(fmtStyle(decimalsFmt(d) + "%"))
		}
	}
	if err != nil {
		return fmt.Errorf("create styles: %w", err)
	}
	return nil
}

func (st *styles) forKind(k model.Kind, dec int, bold bool) int {
	b := 0
	if bold {
		b = 1
	}
	dec = max(0, min(dec, maxDecimals))
	switch k {
	case model.KindMoney:
		return st.money[b][dec]
	case model.KindPercent:
		return st.percent[b][dec]
	case model.KindInteger:
		return st.integer[b]
	case model.KindDate:
		return st.date[b]
	case model.KindDateTime:
		return st.datetime[b]
	default:
		if bold {
			return st.text[1]
		}
		return 0
	}
}

// cellValue converts v to the plain type excelize writes for kind k: nil
// for Null (an empty cell), float64 for money and percent, int64 (or
// float64 when not whole) for integers, time.Time for dates, string
// otherwise. Values Excel cannot hold as numbers or dates (NaN, dates
// before 1900) fall back to v.Text.
func cellValue(k model.Kind, v *model.Value) interface{} {
	if v.Null {
		return nil
	}
	switch k {
	case model.KindMoney, model.KindPercent, model.KindInteger:
		if k == model.KindInteger {
			if n, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
				return n
			}
			if v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < 1<<53 {
				return int64(v.Num)
			}
		}
		if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
			return v.Text
		}
		return v.Num
	case model.KindDate, model.KindDateTime:
		if v.Time.Year() < 1900 {
			return v.Text
		}
		return v.Time
	default:
		return v.Text
	}
}
