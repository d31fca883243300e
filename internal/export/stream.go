package export

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// WriteStream writes a table whose rows come from next, one at a time, until it returns a nil row: memory holds
// a row, not the table (excelize's stream writer keeps large sheets in a temporary file). format is "csv" or
// "xlsx".
func WriteStream(w io.Writer, format, sheet string, header []string, next func() ([]string, error)) error {
	switch strings.ToLower(format) {
	case "csv":
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		for {
			r, err := next()
			if err != nil {
				return err
			}
			if r == nil {
				break
			}
			if err := cw.Write(r); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "xlsx":
		f := excelize.NewFile()
		defer f.Close()
		if sheet == "" {
			sheet = "Sheet1"
		}
		if sheet != "Sheet1" {
			if err := f.SetSheetName("Sheet1", sheet); err != nil {
				return err
			}
		}
		sw, err := f.NewStreamWriter(sheet)
		if err != nil {
			return err
		}
		n := 1
		row := func(cells []string) error {
			vals := make([]any, len(cells))
			for i, c := range cells {
				vals[i] = c
			}
			cell, _ := excelize.CoordinatesToCellName(1, n)
			n++
			return sw.SetRow(cell, vals)
		}
		if err := row(header); err != nil {
			return err
		}
		for {
			r, err := next()
			if err != nil {
				return err
			}
			if r == nil {
				break
			}
			if n > excelize.TotalRows {
				return fmt.Errorf("more than %d rows do not fit in one XLSX sheet; export CSV instead", excelize.TotalRows-1)
			}
			if err := row(r); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
		_, err = f.WriteTo(w)
		return err
	}
	return fmt.Errorf("unknown export format %q: use csv or xlsx", format)
}
