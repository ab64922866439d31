// Package report builds the monthly loan report from a template: it runs
// the template's queries through keyset cursors and streams every row to
// the output writers (an Excel workbook and a PDF, see report/xlsx and
// report/pdf) at once, so no part is ever held in memory whole. The types
// that pass between the run and the writers are in report/model.
package report
