package pdf

import (
	"math"
	"strconv"

	"lms-backup/report/format"
	"lms-backup/report/model"
)

// Chart colours.
var (
	colCollections   = [3]uint8{31, 119, 180}
	colDisbursements = [3]uint8{230, 126, 34}
)

// chart draws collections and disbursements per day as paired bars.
func (p *Writer) chart(days []model.DailyPoint) {
	const (
		axisW = 52.0  // tick labels
		plotH = 150.0 // bars
		size  = 6.5
	)
	p.ensure(20 + 16 + plotH + 30)
	p.heading(p.label("chart_title", "Collections and disbursements per day"))

	// legend
	off := 0.0
	for i, name := range []string{p.label("collections", "Collections"), p.label("disbursements", "Disbursements")} {
		c := colCollections
		if i == 1 {
			c = colDisbursements
		}
		p.fill(p.xs(off, 8), p.y+2, 8, 8, c[0], c[1], c[2])
		lw := 110.0
		p.text(p.xs(off+11, lw), p.y, lw, 12, name, p.start(), false, 8)
		off += 11 + min(lw, p.layout(name, false)*8) + 18
	}
	p.y += 18

	top := 0.0
	for _, d := range days {
		top = max(top, d.Collections, d.Disbursements)
	}
	if top <= 0 {
		top = 1
	}
	step := niceStep(top / 4)
	n := int(math.Ceil(top/step - 1e-9))
	top = float64(n) * step
	plotTop, plotBottom := p.y+4, p.y+4+plotH
	plotW := contentW - axisW

	// grid and tick labels
	p.pdf.SetTextColor(80, 80, 80)
	for i := 0; i <= n; i++ {
		v := float64(i) * step
		y := plotBottom - v/top*plotH
		p.pdf.SetLineWidth(0.3)
		p.pdf.SetStrokeColor(215, 215, 215)
		x0 := p.xs(axisW, plotW)
		p.pdf.Line(x0, y, x0+plotW, y)
		p.text(p.xs(0, axisW-4), y-5, axisW-4, 10, tickLabel(v, step), p.end(), false, size)
	}

	// bars
	group := plotW / float64(len(days))
	bw := group * 0.36
	for i, d := range days {
		gx := axisW + float64(i)*group + group*0.14
		for j, v := range []float64{d.Collections, d.Disbursements} {
			if v <= 0 {
				continue
			}
			c := colCollections
			if j == 1 {
				c = colDisbursements
			}
			bh := v / top * plotH
			p.fill(p.xs(gx+float64(j)*bw, bw), plotBottom-bh, bw, bh, c[0], c[1], c[2])
		}
	}

	// axes
	p.pdf.SetLineWidth(0.6)
	p.pdf.SetStrokeColor(60, 60, 60)
	ax := p.xs(axisW, plotW)
	p.pdf.Line(ax, plotBottom, ax+plotW, plotBottom)
	edge := ax
	if p.rtl {
		edge = ax + plotW
	}
	p.pdf.Line(edge, plotTop-2, edge, plotBottom)

	// day numbers
	every := 1
	if group < 11 {
		every = int(math.Ceil(11 / group))
	}
	for i, d := range days {
		if i%every != 0 && i != len(days)-1 {
			continue
		}
		p.text(p.xs(axisW+float64(i)*group, group), plotBottom+1, group, 10, strconv.Itoa(d.Day.Day()), alignCenter, false, size)
	}
	p.text(p.xs(axisW, plotW), plotBottom+11, plotW, 10, p.label("day", "Day"), alignCenter, false, size+0.5)
	p.pdf.SetTextColor(0, 0, 0)
	p.y = plotBottom + 30
}

// niceStep rounds raw up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	f := raw / e
	switch {
	case f <= 1:
		f = 1
	case f <= 2:
		f = 2
	case f <= 2.5:
		f = 2.5
	case f <= 5:
		f = 5
	default:
		f = 10
	}
	return f * e
}

// tickLabel formats an axis value (a chart scale, not an amount).
func tickLabel(v, step float64) string {
	dec := 0
	for s := step; s < 1 && dec < 6; s *= 10 {
		dec++
	}
	if step*math.Pow10(dec) != math.Trunc(step*math.Pow10(dec)) {
		dec++
	}
	b, _ := format.AppendDecimal(nil, strconv.FormatFloat(v, 'f', dec, 64), dec)
	return string(b)
}
