package feed

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"sirec/internal/record"
)

// Row is one checked row of a feed. ID numbers are in clear only here, in memory, while a file is read; they are
// stored sealed and by their keyed index (I7).
type Row struct {
	Line           int64 // the line of the file the row starts on (the header is line 1 of a CSV file)
	IDNumber       string
	CreditCode     string
	Period         record.Period // tax: the month paid for; events: the month of the event's date
	Type           string
	Base           record.Fen
	EmployerPaid   record.Fen
	IndividualPaid record.Fen
	Event          string // market: the registration (status column); civil affairs and public security: the event
	Date           string // the event's date; staffing: the first day of the post
	EndDate        string // staffing: the last day of the post
	Name           string
	NewIDNumber    string
	Post           string
}

// maxLine bounds one line of a JSON lines file (and so the memory one row can take).
const maxLine = 1 << 20

// Parser reads the rows of one feed file, checking each. It holds one row at a time.
type Parser struct {
	kind   Kind
	format string
	today  time.Time
	csv    *csv.Reader
	col    map[string]int // CSV: column name → index
	lines  *bufio.Reader  // JSON lines
	line   int64          // JSON lines: the last line read
}

// NewParser starts reading a feed file of kind k in format. A CSV file's header is read and checked at once:
// its problems are returned as record.Errors (fields "line 1.column N"), and then no row can be read.
func NewParser(k Kind, format string, r io.Reader, today time.Time) (*Parser, error) {
	p := &Parser{kind: k, format: format, today: today}
	br := bufio.NewReaderSize(r, 64<<10)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	switch format {
	case FormatCSV:
		p.csv = csv.NewReader(br)
		p.csv.FieldsPerRecord = -1
		p.csv.ReuseRecord = true
		header, err := p.csv.Read()
		if errors.Is(err, io.EOF) {
			return nil, record.Invalid("line 1", "feed_header", "the file is empty; its first line names the columns: %s", k.columnNames())
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, record.Invalid("line 1", "csv_format", "%v", pe.Err)
			}
			return nil, err
		}
		p.col = map[string]int{}
		var errs record.Errors
		for i, h := range header {
			h = strings.TrimSpace(strings.ToLower(h))
			field := fmt.Sprintf("line 1.column %d", i+1)
			if _, ok := k.column(h); !ok {
				errs.Append(field, record.Invalid("", "feed_column", "unknown column %q; a %s file has the columns %s", h, k.Name, k.columnNames()))
				continue
			}
			if _, dup := p.col[h]; dup {
				errs.Append(field, record.Invalid("", "feed_column", "column %q appears twice", h))
				continue
			}
			p.col[h] = i
		}
		for _, c := range k.Columns {
			if _, ok := p.col[c.Name]; c.Required && !ok {
				errs.Append("line 1", record.Invalid("", "feed_column", "column %q is missing", c.Name))
			}
		}
		if k.Name == KindTax {
			_, id := p.col["id_number"]
			_, code := p.col["credit_code"]
			if !id && !code {
				errs.Append("line 1", record.Invalid("", "feed_column", "a tax file needs an id_number column, a credit_code column, or both"))
			}
		}
		if err := errs.Err(); err != nil {
			return nil, err
		}
	case FormatJSONL:
		p.lines = br
	default:
		return nil, record.Invalid("format", "feed_format", "format %q is neither csv nor jsonl", format)
	}
	return p, nil
}

// Next reads the next row. A bad row is returned as record.Errors naming its line, each field and rule
// ("line 12.period"); reading may go on after it. io.EOF ends the file; any other error is fatal.
func (p *Parser) Next() (Row, record.Errors, error) {
	for {
		var line int64
		var get func(string) string
		var rowErrs record.Errors
		switch p.format {
		case FormatCSV:
			rec, err := p.csv.Read()
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return Row{}, record.Errors{record.Invalid(fmt.Sprintf("line %d", pe.StartLine), "csv_format", "%v", pe.Err)}, nil
				}
				return Row{}, nil, err
			}
			l, _ := p.csv.FieldPos(0)
			line = int64(l)
			if blank(rec) {
				continue
			}
			if len(rec) > len(p.col) && !extraBlank(rec, p.col) {
				rowErrs = append(rowErrs, record.Invalid(fmt.Sprintf("line %d", line), "csv_fields", "the row has %d values for %d columns", len(rec), len(p.col)))
			}
			get = func(name string) string {
				if i, ok := p.col[name]; ok && i < len(rec) {
					return strings.TrimSpace(rec[i])
				}
				return ""
			}
		case FormatJSONL:
			b, err := p.readLine()
			if err != nil {
				return Row{}, nil, err
			}
			line = p.line
			if len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			vals, errs := p.decodeJSONLine(b)
			if len(errs) > 0 {
				return Row{}, errs, nil
			}
			get = func(name string) string { return vals[name] }
		}
		r, errs := p.check(line, get)
		errs = append(rowErrs, errs...)
		if len(errs) > 0 {
			return Row{}, errs, nil
		}
		return r, nil, nil
	}
}

// readLine reads one line of a JSON lines file (without its end), refusing one longer than maxLine.
func (p *Parser) readLine() ([]byte, error) {
	var buf []byte
	for {
		b, err := p.lines.ReadSlice('\n')
		if len(buf)+len(b) > maxLine {
			return nil, record.Invalid(fmt.Sprintf("line %d", p.line+1), "line_length", "a line may be at most %d bytes", maxLine)
		}
		buf = append(buf, b...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if len(buf) == 0 {
				return nil, io.EOF
			}
			p.line++
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		p.line++
		return bytes.TrimRight(buf, "\r\n"), nil
	}
}

// decodeJSONLine reads one JSON object whose keys are the kind's columns and whose values are strings (or null).
func (p *Parser) decodeJSONLine(b []byte) (map[string]string, record.Errors) {
	at := fmt.Sprintf("line %d", p.line)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, record.Errors{record.Invalid(at, "json_format", "the line is not one JSON object: %v", err)}
	}
	vals := make(map[string]string, len(raw))
	var errs record.Errors
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, ok := p.kind.column(k); !ok {
			errs = append(errs, record.Invalid(at+"."+k, "feed_column", "unknown field %q; a %s line has the fields %s", k, p.kind.Name, p.kind.columnNames()))
			continue
		}
		v := raw[k]
		if string(v) == "null" {
			continue
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			errs = append(errs, record.Invalid(at+"."+k, "json_string", "every value is a JSON string (money as \"1396.82\", periods as \"202401\"), not %s", v))
			continue
		}
		vals[k] = strings.TrimSpace(s)
	}
	return vals, errs
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// extraBlank reports whether the values beyond the header's columns are all empty (a trailing comma).
func extraBlank(rec []string, col map[string]int) bool {
	for _, c := range rec[len(col):] {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// check turns one row's values into a Row, checking every field by the kind's rules; every bad field is reported.
func (p *Parser) check(line int64, get func(string) string) (Row, record.Errors) {
	at := fmt.Sprintf("line %d", line)
	r := Row{Line: line}
	var errs record.Errors
	bad := func(err error) {
		if err != nil {
			errs.Append(at, err)
		}
	}
	required := func(name string) string {
		v := get(name)
		if v == "" {
			bad(record.Invalid(name, "required", "%s is required", name))
		}
		return v
	}
	idNumber := func(name string, need bool) string {
		v := get(name)
		if v == "" {
			if need {
				bad(record.Invalid(name, "required", "%s is required", name))
			}
			return ""
		}
		if err := record.ValidateCitizenID(name, v, p.today); err != nil {
			bad(err)
			return ""
		}
		return v
	}
	creditCode := func(name string, need bool) string {
		v := get(name)
		if v == "" {
			if need {
				bad(record.Invalid(name, "required", "%s is required", name))
			}
			return ""
		}
		if err := record.ValidateUSCC(name, v); err != nil {
			bad(err)
			return ""
		}
		return v
	}
	date := func(name string, need bool) string {
		v := get(name)
		if v == "" {
			if need {
				bad(record.Invalid(name, "required", "%s is required", name))
			}
			return ""
		}
		d, err := time.Parse("2006-01-02", v)
		switch {
		case err != nil:
			bad(record.Invalid(name, "date_format", "%q is not a date written YYYY-MM-DD", v))
			return ""
		case d.Year() < 1950 || d.After(p.today):
			bad(record.Invalid(name, "date_range", "date %s is outside 1950-01-01 to today (%s)", v, p.today.Format("2006-01-02")))
			return ""
		}
		return v
	}
	money := func(name string, positive bool) record.Fen {
		v := required(name)
		if v == "" {
			return 0
		}
		f, err := record.ParseYuan(name, v)
		switch {
		case err != nil:
			bad(err)
		case positive && f <= 0:
			bad(record.Invalid(name, "amount_positive", "%s must be more than 0", name))
		case f < 0:
			bad(record.Invalid(name, "amount_non_negative", "%s cannot be negative", name))
		}
		return f
	}
	text := func(name string, need bool, max int) string {
		v := get(name)
		if v == "" {
			if need {
				bad(record.Invalid(name, "required", "%s is required", name))
			}
			return ""
		}
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > max {
			bad(record.Invalid(name, "text_length", "%s must be valid UTF-8 of at most %d characters", name, max))
			return ""
		}
		return v
	}
	eventPeriod := func(d string) record.Period {
		if len(d) < 7 {
			return 0
		}
		t, _ := time.Parse("2006-01-02", d)
		return record.MakePeriod(t.Year(), int(t.Month()))
	}

	switch p.kind.Name {
	case KindTax:
		r.IDNumber = idNumber("id_number", false)
		r.CreditCode = creditCode("credit_code", false)
		if get("id_number") == "" && get("credit_code") == "" {
			bad(record.Invalid("id_number", "subject_required", "a row names the person (id_number) or the employer (credit_code)"))
		} else if get("id_number") != "" && get("credit_code") != "" {
			bad(record.Invalid("credit_code", "subject_one", "a row names either a person (id_number) or an employer (credit_code), not both"))
		}
		if v := required("period"); v != "" {
			pd, err := record.ParsePeriod("period", v)
			switch {
			case err != nil:
				bad(err)
			case pd > record.MakePeriod(p.today.Year(), int(p.today.Month())):
				bad(record.Invalid("period", "period_not_future", "period %s is in the future", pd))
			default:
				r.Period = pd
			}
		}
		if v := required("type"); v != "" {
			if err := record.ValidateInsuranceType("type", v); err != nil {
				bad(err)
			}
			r.Type = v
		}
		r.Base = money("base", true)
		r.EmployerPaid = money("employer_paid", false)
		r.IndividualPaid = money("individual_paid", false)
	case KindMarket:
		r.CreditCode = creditCode("credit_code", true)
		r.Name = text("name", true, 100)
		switch v := required("status"); v {
		case "":
		case EventEstablished, EventChanged, EventDeregistered:
			r.Event = v
		default:
			bad(record.Invalid("status", "market_status", "status %q is not one of established, changed, deregistered", v))
		}
		r.Date = date("date", true)
		r.Period = eventPeriod(r.Date)
	case KindCivilAffairs, KindPublicSecurity:
		r.IDNumber = idNumber("id_number", true)
		r.Name = text("name", false, 50)
		events := []string{EventDeath}
		if p.kind.Name == KindPublicSecurity {
			events = []string{EventDeath, EventIDChange, EventNameChange}
		}
		if v := required("event"); v != "" {
			if !slices.Contains(events, v) {
				bad(record.Invalid("event", "feed_event", "event %q is not one of %s", v, strings.Join(events, ", ")))
			} else {
				r.Event = v
			}
		}
		r.Date = date("date", true)
		r.Period = eventPeriod(r.Date)
		if p.kind.Name == KindPublicSecurity {
			r.NewIDNumber = idNumber("new_id_number", r.Event == EventIDChange)
			switch {
			case r.Event != EventIDChange && get("new_id_number") != "":
				bad(record.Invalid("new_id_number", "new_id_for_change", "new_id_number belongs only to an id_change"))
			case r.Event == EventIDChange && r.NewIDNumber != "" && r.NewIDNumber == r.IDNumber:
				bad(record.Invalid("new_id_number", "new_id_differs", "the new ID number is the same as the old one"))
			case r.Event == EventNameChange && r.Name == "" && get("name") == "":
				bad(record.Invalid("name", "required", "a name change gives the new name"))
			}
		}
	case KindStaffing:
		r.IDNumber = idNumber("id_number", true)
		r.CreditCode = creditCode("credit_code", true)
		r.Post = text("post", true, 50)
		r.Date = date("from", true)
		r.EndDate = date("to", false)
		if r.Date != "" && r.EndDate != "" && r.EndDate < r.Date {
			bad(record.Invalid("to", "date_order", "the last day (%s) is before the first (%s)", r.EndDate, r.Date))
		}
		r.Period = eventPeriod(r.Date)
	}
	return r, errs
}
