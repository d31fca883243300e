package review

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"sirec/internal/record"
)

// BatchColumns are the columns of a monthly contribution batch file (月度缴费批量), in any order, named in the
// first row; employer and late_days may be left out.
//
//	id_number   citizen ID number (公民身份号码)
//	period      YYYYMM
//	type        pension, medical, unemployment, work_injury, maternity
//	wage        declared monthly wage in yuan, up to two decimals (缴费工资)
//	status      paid, due, arrears
//	employer    unified social credit code; empty for flexible employment
//	late_days   days paid late, for the late fee
var BatchColumns = []string{"id_number", "period", "type", "wage", "status", "employer", "late_days"}

var requiredColumns = []string{"id_number", "period", "type", "wage", "status"}

// MaxBatchRows is the largest batch accepted in one file.
const MaxBatchRows = 500_000

// ParseBatch reads a monthly contribution batch from a CSV (UTF-8, optional BOM) or XLSX file (first sheet)
// into draft facts. Every bad row is reported — its row number as a spreadsheet shows it (the header is row 1),
// the column and the rule — and no facts are returned while any row is bad (I6). It also returns the file's
// SHA-256, by which a second upload of the same file is recognised.
func ParseBatch(name string, content []byte, today time.Time) ([]DraftFact, string, error) {
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])
	var next func() ([]string, error)
	switch {
	case strings.HasSuffix(strings.ToLower(name), ".xlsx"):
		f, err := excelize.OpenReader(bytes.NewReader(content))
		if err != nil {
			return nil, hash, record.Invalid("file", "xlsx_format", "%s is not a readable XLSX workbook: %v", name, err)
		}
		defer f.Close()
		sheets := f.GetSheetList()
		if len(sheets) == 0 {
			return nil, hash, record.Invalid("file", "xlsx_format", "%s has no sheet", name)
		}
		rows, err := f.Rows(sheets[0])
		if err != nil {
			return nil, hash, err
		}
		defer rows.Close()
		next = func() ([]string, error) {
			if !rows.Next() {
				if err := rows.Error(); err != nil {
					return nil, err
				}
				return nil, io.EOF
			}
			return rows.Columns()
		}
	case strings.HasSuffix(strings.ToLower(name), ".csv"):
		r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))))
		r.FieldsPerRecord = -1
		r.ReuseRecord = true
		next = r.Read
	default:
		return nil, hash, record.Invalid("file", "batch_format", "%s: a batch file must be .csv or .xlsx", name)
	}

	header, err := next()
	if err != nil {
		return nil, hash, record.Invalid("file", "batch_header", "the first row must name the columns: %s", strings.Join(BatchColumns, ", "))
	}
	col := map[string]int{}
	var errs record.Errors
	for i, h := range header {
		h = strings.TrimSpace(strings.ToLower(h))
		if indexOf(BatchColumns, h) < 0 {
			errs.Append(fmt.Sprintf("row 1, column %d", i+1), record.Invalid("", "batch_column", "unknown column %q; columns are %s", h, strings.Join(BatchColumns, ", ")))
			continue
		}
		if _, dup := col[h]; dup {
			errs.Append(fmt.Sprintf("row 1, column %d", i+1), record.Invalid("", "batch_column", "column %q appears twice", h))
		}
		col[h] = i
	}
	for _, h := range requiredColumns {
		if _, ok := col[h]; !ok {
			errs.Append("row 1", record.Invalid("", "batch_column", "column %q is missing", h))
		}
	}
	if len(errs) > 0 {
		return nil, hash, errs
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var facts []DraftFact
	for row := 2; ; row++ {
		rec, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs.Append(fmt.Sprintf("row %d", pe.Line), record.Invalid("", "csv_format", "%v", pe.Err))
				if len(errs) >= 1000 {
					break
				}
				continue
			}
			return nil, hash, err
		}
		if blank(rec) {
			continue
		}
		if row-1 > MaxBatchRows {
			return nil, hash, record.Invalid("file", "batch_rows", "a batch holds at most %d rows", MaxBatchRows)
		}
		f, err := batchFact(rec, cell, today)
		if err != nil {
			errs.Append(fmt.Sprintf("row %d", row), err)
			continue
		}
		facts = append(facts, f)
	}
	if len(errs) > 0 {
		return nil, hash, errs
	}
	if len(facts) == 0 {
		return nil, hash, record.Invalid("file", "batch_empty", "the file has no rows below its header")
	}
	return facts, hash, nil
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// batchFact turns one row into a contribution fact, checking it fully (the column is the error's field).
func batchFact(rec []string, cell func([]string, string) string, today time.Time) (DraftFact, error) {
	c := record.ContributionPosted{Type: cell(rec, "type"), Status: cell(rec, "status"), Employer: cell(rec, "employer")}
	c.IDNumber = cell(rec, "id_number")
	p, err := record.ParsePeriod("period", cell(rec, "period"))
	if err != nil {
		return DraftFact{}, err
	}
	c.Period = p
	w, err := record.ParseYuan("wage", cell(rec, "wage"))
	if err != nil {
		return DraftFact{}, err
	}
	c.Wage = int64(w)
	if s := cell(rec, "late_days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return DraftFact{}, record.Invalid("late_days", "integer", "%q is not a whole number of days", s)
		}
		c.LateDays = n
	}
	if err := c.Validate(today); err != nil {
		return DraftFact{}, err
	}
	data, err := json.Marshal(&c)
	if err != nil {
		return DraftFact{}, err
	}
	return DraftFact{Type: record.TypeContributionPosted, IDNumber: c.IDNumber, Data: data}, nil
}

// SubmitBatch makes a contribution_batch draft from an uploaded file: every row is checked — its fields, and
// that its person is registered — before anything is kept; a file uploaded before is refused. The file itself
// is kept as the draft's original material.
func (s *Service) SubmitBatch(ctx context.Context, actor Actor, name string, content []byte) (Draft, error) {
	if !actor.holds(MakerPost) {
		return Draft{}, record.Errorf(record.EForbidden, "making drafts needs the collector post (采集/经办)")
	}
	facts, hash, err := ParseBatch(name, content, s.now())
	if err != nil {
		return Draft{}, err
	}
	ids := make([]string, len(facts))
	for i, f := range facts {
		ids[i] = f.IDNumber
	}
	missing, err := s.st.MissingPersons(ctx, ids)
	if err != nil {
		return Draft{}, err
	}
	if len(missing) > 0 {
		var errs record.Errors
		for _, i := range missing {
			errs.Append(fmt.Sprintf("row %d", i+2), record.Invalid("id_number", "person_registered", "no registered person has ID number %s", record.MaskID(ids[i])))
		}
		return Draft{}, errs
	}
	sha, err := s.AddMaterial(ctx, content)
	if err != nil {
		return Draft{}, err
	}
	ctype := "text/csv"
	if strings.HasSuffix(strings.ToLower(name), ".xlsx") {
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return s.Submit(ctx, actor, Submission{Kind: "contribution_batch", Facts: facts, FileHash: hash,
		Materials: []Material{{SHA256: sha, Name: name, ContentType: ctype}},
		Summary:   fmt.Sprintf("月度缴费批量 %s：%d 行", name, len(facts))})
}
