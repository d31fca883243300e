package stats_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"sirec/internal/demo"
	"sirec/internal/record"
	"sirec/internal/stats"
	"sirec/internal/store/storetest"
)

const persons = 60

func TestStatisticsWithSuppression(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st := env.Store()
		if _, err := demo.Generate(ctx, st, demo.Options{Persons: persons, Seed: 9, FromYear: 2023, Years: 2}); err != nil {
			t.Fatal(err)
		}
		// What the records hold, person by person, to compare the statistics with.
		type key struct {
			typ  string
			year int
		}
		want := map[key]struct {
			persons map[string]bool
			months  int64
			indiv   record.Fen
		}{}
		var keys []string
		var benefitPersons = map[string]bool{}
		var benefitSum record.Fen
		for i := range persons {
			k, err := st.FindPerson(ctx, demo.IDNumber(9, i))
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
			v, _ := st.PersonRecord(ctx, k)
			for _, c := range v.Contributions {
				kk := key{c.Type, c.Period.Year()}
				w := want[kk]
				if w.persons == nil {
					w.persons = map[string]bool{}
				}
				w.persons[k] = true
				if c.Status == record.StatusPaid {
					w.months++
					w.indiv += c.IndividualAmt
				}
				want[kk] = w
			}
			for _, b := range v.Benefits {
				if b.Period.Year() == 2024 {
					benefitPersons[k] = true
					benefitSum += b.Amount
				}
			}
		}

		// By type and year: large cells, every figure shown and equal to the records'.
		tab, err := stats.Make(ctx, st.Driver(), stats.Query{Measure: stats.Contributions, By: []string{stats.ByType, stats.ByPeriod}, From: 202301, To: 202412})
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Cells) == 0 {
			t.Fatal("no cells")
		}
		for _, c := range tab.Cells {
			w := want[key{c.Type, atoi(c.Period)}]
			if int64(len(w.persons)) < stats.Threshold {
				if !c.Suppressed {
					t.Errorf("cell %s %s of %d persons shown", c.Type, c.Period, len(w.persons))
				}
				continue
			}
			if c.Suppressed || *c.Persons != int64(len(w.persons)) || *c.Count != w.months || *c.Individual != w.indiv || c.Region != "" {
				t.Errorf("cell %+v; want %d persons %d months %s", c, len(w.persons), w.months, w.indiv)
			}
		}

		// By region too: most regions hold a few persons; their cells are suppressed, and no row or column
		// keeps exactly one suppressed cell that subtraction would reveal.
		tab, err = stats.Make(ctx, st.Driver(), stats.Query{Measure: stats.Contributions, From: 202301, To: 202412, Granularity: "year"})
		if err != nil {
			t.Fatal(err)
		}
		suppressed := 0
		for _, c := range tab.Cells {
			if c.Suppressed {
				suppressed++
				if c.Persons != nil || c.Base != nil || c.Individual != nil {
					t.Errorf("suppressed cell carries figures: %+v", c)
				}
			} else if *c.Persons < stats.Threshold {
				t.Errorf("small cell shown: %+v", c)
			}
		}
		if suppressed == 0 {
			t.Error("no cell suppressed with 60 persons over 10 regions")
		}
		for _, dim := range []string{"region", "type", "period"} {
			groups := map[string][2]int{}
			for _, c := range tab.Cells {
				k := map[string]string{"region": c.Type + c.Period, "type": c.Region + c.Period, "period": c.Region + c.Type}[dim]
				g := groups[k]
				g[0]++
				if c.Suppressed {
					g[1]++
				}
				groups[k] = g
			}
			for k, g := range groups {
				if g[1] == 1 && g[0] > 1 {
					t.Errorf("along %s, group %q has exactly one suppressed cell of %d", dim, k, g[0])
				}
			}
		}
		// Nothing identifies a person.
		b, _ := json.Marshal(tab)
		for _, k := range keys {
			if strings.Contains(string(b), k) {
				t.Fatal("a person key in the statistics")
			}
		}
		if ex := stats.Export(tab); len(ex.Rows) != len(tab.Cells)+1 {
			t.Errorf("export rows: %d", len(ex.Rows))
		}

		// Benefits by kind.
		bt, err := stats.Make(ctx, st.Driver(), stats.Query{Measure: stats.Benefits, By: []string{stats.ByType}, From: 202401, To: 202412})
		if err != nil {
			t.Fatal(err)
		}
		var sum record.Fen
		var n int64
		for _, c := range bt.Cells {
			if c.Amount != nil {
				sum += *c.Amount
				n += *c.Persons
			}
		}
		if len(benefitPersons) >= stats.Threshold && (sum != benefitSum || n != int64(len(benefitPersons))) {
			t.Errorf("benefits: %s for %d, want %s for %d", sum, n, benefitSum, len(benefitPersons))
		}
		if _, err := stats.Make(ctx, st.Driver(), stats.Query{Measure: "wages", From: 202401, To: 202312}); err == nil {
			t.Error("bad query accepted")
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
