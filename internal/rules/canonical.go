package rules

import (
	"bytes"
	"fmt"
	"strconv"

	"sirec/internal/record"
)

// Canonical returns the set's deterministic TOML encoding: identity first, then the sections in the order of
// FORMAT.md, keys in numeric or fixed order, rates as percentages ("16%"), money as yuan with two decimals,
// months as "YYYY-MM", no comments. Equal sets have equal encodings, and ParseSet of the encoding gives an equal
// set: this is what a ruleset.adopted event records. A merged set encodes all the rules it holds.
func (s *Set) Canonical() []byte {
	var w tomlWriter
	w.kv("version", quote(s.version))
	w.kv("region", quote(s.region))
	w.kv("effective_from", quote(formatMonth(s.from)))
	if s.title != "" {
		w.kv("title", quote(s.title))
	}
	d := &s.d
	w.str("rounding", d.rounding)

	b := d.base
	w.section("contribution_base")
	w.money("average_wage_annual", b.averageAnnual)
	w.money("average_wage_monthly", b.averageMonthly)
	w.rate("floor_percent", b.floorPercent)
	w.rate("ceiling_percent", b.ceilingPercent)
	w.str("round", b.round)
	w.money("floor", b.floor)
	w.money("ceiling", b.ceiling)

	for _, typ := range record.InsuranceTypes {
		if p := d.rates[typ]; p != nil {
			w.section("rates." + typ)
			w.rate("employer", p.employer)
			w.rate("individual", p.individual)
		}
	}
	w.section("work_injury_classes")
	for _, c := range sortedKeys(d.injuryClasses) {
		r := d.injuryClasses[c]
		w.rate(strconv.Itoa(c), &r)
	}

	w.section("account")
	w.str("interest_method", d.account.interestMethod)
	w.str("unpublished_rate", d.account.unpublishedRate)
	w.section("account.credit_ratio")
	for _, p := range sortedKeys(d.account.creditRatio) {
		r := d.account.creditRatio[p]
		w.rate(quote(formatMonth(p)), &r)
	}
	w.section("account.crediting_rates")
	for _, y := range sortedKeys(d.account.creditingRates) {
		r := d.account.creditingRates[y]
		w.rate(strconv.Itoa(y), &r)
	}

	w.section("pension")
	w.str("age_months", d.pension.ageMonths)
	w.section("pension.transitional")
	w.str("formula", d.pension.formula)
	w.rate("coefficient", d.pension.coefficient)
	w.section("pension.payout_months")
	for _, a := range sortedKeys(d.pension.payout) {
		w.kv(strconv.Itoa(a), strconv.Itoa(d.pension.payout[a]))
	}

	for _, cat := range RetirementCategories {
		if r := d.retirement[cat]; r != nil {
			w.section("retirement." + cat)
			if r.startBirth != nil {
				w.kv("start_birth", quote(formatMonth(*r.startBirth)))
			}
			w.int("original_age", r.originalAge)
			w.int("max_delay_months", r.maxDelay)
			w.int("birth_months_per_delay_month", r.perMonths)
		}
	}

	mc := d.minContribution
	w.section("min_contribution")
	w.int("months", mc.months)
	w.int("increase_from_year", mc.fromYear)
	w.int("increase_months_per_year", mc.perYear)
	w.int("max_months", mc.max)

	w.section("late_fee")
	w.rate("daily_rate", d.lateFeeDaily)

	for _, t := range []struct {
		name string
		m    map[int]record.Fen
	}{{"average_wages", d.averageWages}, {"benefit_wages", d.benefitWages}} {
		w.section(t.name)
		for _, y := range sortedKeys(t.m) {
			f := t.m[y]
			w.money(strconv.Itoa(y), &f)
		}
	}
	return w.buf.Bytes()
}

// tomlWriter writes sections lazily: a section header appears only when a key follows it.
type tomlWriter struct {
	buf     bytes.Buffer
	pending string
}

func (w *tomlWriter) section(name string) { w.pending = name }

func (w *tomlWriter) kv(k, v string) {
	if w.pending != "" {
		fmt.Fprintf(&w.buf, "\n[%s]\n", w.pending)
		w.pending = ""
	}
	w.buf.WriteString(k + " = " + v + "\n")
}

func (w *tomlWriter) str(k string, v *string) {
	if v != nil {
		w.kv(k, quote(*v))
	}
}

func (w *tomlWriter) rate(k string, v *Rate) {
	if v != nil {
		w.kv(k, quote(v.String()))
	}
}

func (w *tomlWriter) money(k string, v *record.Fen) {
	if v != nil {
		w.kv(k, quote(v.String()))
	}
}

func (w *tomlWriter) int(k string, v *int) {
	if v != nil {
		w.kv(k, strconv.Itoa(*v))
	}
}

// quote writes a TOML basic string: UTF-8 as is, quotes, backslashes and control characters escaped.
func quote(s string) string {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
