// Package feed takes in what other departments report — contributions collected by the tax bureau, employers'
// registrations at market regulation, deaths and identity changes from civil affairs and public security,
// public-institution posts from staffing offices — and reconciles it with the record (核对, R5.1, R5.2).
//
// A feed file (CSV or JSON lines) is imported streamed: every row is checked and every bad one reported with its
// line, field and rule, and nothing is kept while any row is bad; a file imported before is recognised by its
// SHA-256. A reconciliation run compares a feed with the projections in bounded memory — the database merges the
// two sides in (ID number, period, insurance type) order, or looks them up by key, and the run reads one group at
// a time — and stores every difference it finds. Differences are never applied to the record: each becomes a
// work item (internal/workitem), closed only by an approved maintenance draft or a reviewed dismissal.
package feed

import (
	"fmt"
	"slices"
	"strings"

	"sirec/internal/record"
)

// Feed kinds: one per department and report.
const (
	KindTax            = "tax_contributions" // 税务部门：社会保险费征收明细
	KindMarket         = "market_employers"  // 市场监管部门：企业登记、变更、注销
	KindCivilAffairs   = "civil_affairs"     // 民政部门：死亡
	KindPublicSecurity = "public_security"   // 公安部门：死亡、身份号码变更、姓名变更
	KindStaffing       = "staffing_posts"    // 机构编制部门：机关事业单位编制人员
)

// Column is one column of a feed format.
type Column struct {
	Name     string
	Required bool   // every row must have a value
	Doc      string // what it holds, for the documentation and the console
}

// Kind describes one feed kind: the department that reports it, its columns and what the reconciliation does.
type Kind struct {
	Name       string
	Department string // 中文 name of the reporting department
	Title      string // 中文 name of the report
	English    string
	Columns    []Column
	// Complete says whether a file may be declared a complete list (--complete), so that what the record holds
	// and the file lacks is reported too. A tax file is always complete for the months and insurance types it
	// holds; event lists (deaths, identity changes) never are.
	Complete bool
}

// Events of the event-list feeds.
const (
	EventEstablished  = "established"  // 设立登记
	EventChanged      = "changed"      // 变更登记
	EventDeregistered = "deregistered" // 注销登记
	EventDeath        = "death"        // 死亡
	EventIDChange     = "id_change"    // 公民身份号码变更
	EventNameChange   = "name_change"  // 姓名变更
)

// Kinds lists the feed kinds in the order the documentation and the console show them.
var Kinds = []Kind{
	{KindTax, "税务部门", "社会保险费征收明细", "contributions collected by the tax bureau", []Column{
		{"id_number", false, "citizen ID number of the insured person (a person row); leave empty on an employer row"},
		{"credit_code", false, "unified social credit code of the employer (an employer row: the employer's totals); leave empty on a person row"},
		{"period", true, "the month paid for, YYYYMM"},
		{"type", true, "insurance type: pension, medical, unemployment, work_injury, maternity"},
		{"base", true, "contribution base in yuan, up to two decimals (缴费基数)"},
		{"employer_paid", true, "the employer's part collected, in yuan (单位缴纳)"},
		{"individual_paid", true, "the individual's part collected, in yuan (个人缴纳)"},
	}, false},
	{KindMarket, "市场监管部门", "企业登记状态", "employer registrations from market regulation", []Column{
		{"credit_code", true, "unified social credit code"},
		{"name", true, "the registered name"},
		{"status", true, "established, changed or deregistered (设立 / 变更 / 注销)"},
		{"date", true, "the date of that registration, YYYY-MM-DD"},
	}, true},
	{KindCivilAffairs, "民政部门", "死亡登记", "deaths from civil affairs", []Column{
		{"id_number", true, "citizen ID number"},
		{"name", false, "name"},
		{"event", true, "death"},
		{"date", true, "date of death, YYYY-MM-DD"},
	}, false},
	{KindPublicSecurity, "公安部门", "户籍变动", "deaths and identity changes from public security", []Column{
		{"id_number", true, "citizen ID number (the old one, for an ID number change)"},
		{"name", false, "name; for a name change, the new name"},
		{"event", true, "death, id_change or name_change"},
		{"date", true, "the date of the event, YYYY-MM-DD"},
		{"new_id_number", false, "the new citizen ID number, for id_change"},
	}, false},
	{KindStaffing, "机构编制部门", "机关事业单位编制人员", "public-institution posts from staffing offices", []Column{
		{"id_number", true, "citizen ID number of the post holder"},
		{"credit_code", true, "unified social credit code of the public institution or organ"},
		{"post", true, "the kind of post (编制类别), e.g. 行政编制, 事业编制"},
		{"from", true, "the post holder's first day, YYYY-MM-DD"},
		{"to", false, "the last day, YYYY-MM-DD; empty while the post is held"},
	}, true},
}

// KindOf returns the named kind, or an error naming the field and rule.
func KindOf(field, name string) (Kind, error) {
	i := slices.IndexFunc(Kinds, func(k Kind) bool { return k.Name == name })
	if i < 0 {
		return Kind{}, record.Invalid(field, "feed_kind", "%q is not a feed kind; the kinds are %s", name, KindNames())
	}
	return Kinds[i], nil
}

// KindNames lists the kinds' names.
func KindNames() string {
	n := make([]string, len(Kinds))
	for i, k := range Kinds {
		n[i] = k.Name
	}
	return strings.Join(n, ", ")
}

func (k Kind) column(name string) (Column, bool) {
	i := slices.IndexFunc(k.Columns, func(c Column) bool { return c.Name == name })
	if i < 0 {
		return Column{}, false
	}
	return k.Columns[i], true
}

func (k Kind) columnNames() string {
	n := make([]string, len(k.Columns))
	for i, c := range k.Columns {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}

// Formats of a feed file.
const (
	FormatCSV   = "csv"   // UTF-8 (a byte-order mark is allowed), the first line names the columns
	FormatJSONL = "jsonl" // one JSON object per line, with the columns as keys and every value a string
)

// FormatOf returns the format of a file by its name: .csv, or .jsonl / .ndjson.
func FormatOf(name string) (string, error) {
	l := strings.ToLower(name)
	switch {
	case strings.HasSuffix(l, ".csv"):
		return FormatCSV, nil
	case strings.HasSuffix(l, ".jsonl"), strings.HasSuffix(l, ".ndjson"):
		return FormatJSONL, nil
	}
	return "", record.Invalid("name", "feed_format", "%s: a feed file is .csv or .jsonl (JSON lines)", name)
}

// Number formats a feed number for people: F000042.
func Number(id int64) string { return fmt.Sprintf("F%06d", id) }

// RunNumber formats a reconciliation run number: R000042.
func RunNumber(id int64) string { return fmt.Sprintf("R%06d", id) }

// ParseNumber reads "F000042", "R000042" or "42" (prefix is "F" or "R").
func ParseNumber(field, prefix, s string) (int64, error) {
	n := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), prefix)
	var id int64
	if _, err := fmt.Sscanf(n, "%d", &id); err != nil || id <= 0 || fmt.Sprint(id) != strings.TrimLeft(n, "0") {
		return 0, record.Errorf(record.ENotFound, "%s: %q is not a number such as %s000042", field, s, prefix)
	}
	return id, nil
}
