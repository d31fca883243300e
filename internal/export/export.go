// Package export writes tables — the maintenance log and other lists staff and supervisors search — as CSV
// (UTF-8 with a byte-order mark, so that spreadsheet programs show Chinese correctly) and XLSX (excelize).
package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Table is a header and rows of text.
type Table struct {
	Sheet  string
	Header []string
	Rows   [][]string
}

// CSV writes the table as CSV.
func CSV(w io.Writer, t Table) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	for _, r := range t.Rows {
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// XLSX writes the table as one worksheet, streaming rows so that memory stays small.
func XLSX(w io.Writer, t Table) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := t.Sheet
	if sheet == "" {
		sheet = "Sheet1"
	}
	if sheet != "Sheet1" {
		f.SetSheetName("Sheet1", sheet)
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return err
	}
	row := func(n int, cells []string) error {
		vals := make([]any, len(cells))
		for i, c := range cells {
			vals[i] = c
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		return sw.SetRow(cell, vals)
	}
	if err := row(1, t.Header); err != nil {
		return err
	}
	for i, r := range t.Rows {
		if err := row(i+2, r); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

// Write writes the table in a format named "csv" or "xlsx".
func Write(w io.Writer, format string, t Table) error {
	switch strings.ToLower(format) {
	case "csv":
		return CSV(w, t)
	case "xlsx":
		return XLSX(w, t)
	}
	return fmt.Errorf("unknown export format %q: use csv or xlsx", format)
}
