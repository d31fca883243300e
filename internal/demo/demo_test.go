package demo

import (
	"testing"
	"time"

	"sirec/internal/record"
)

func TestPersonsAreValidUniqueAndDeterministic(t *testing.T) {
	g := newGenerator(Options{Persons: 20000, Seed: 42})
	seen := map[string]int{}
	for i := 0; i < 20000; i++ {
		p := g.person(i)
		if err := record.ValidateCitizenID("id", p.id, time.Now()); err != nil {
			t.Fatalf("person %d: %v", i, err)
		}
		if j, dup := seen[p.id]; dup {
			t.Fatalf("persons %d and %d share ID %s", j, i, p.id)
		}
		seen[p.id] = i
		if p.wage0 <= 0 || p.retire <= record.MakePeriod(p.birth.Year(), int(p.birth.Month())) {
			t.Fatalf("person %d: %+v", i, p)
		}
	}
	if IDNumber(42, 7) != g.person(7).id || IDNumber(43, 7) == IDNumber(42, 7) {
		t.Fatal("IDNumber is not the generator's, or ignores the seed")
	}
	for j, code := range g.employers {
		if err := record.ValidateUSCC("employer", code); err != nil {
			t.Fatalf("employer %d: %v", j, err)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Persons: 0}, {Persons: 10, FromYear: 1990, Years: 2}, {Persons: 10, FromYear: 2020, Years: 10}, {Persons: 10, Types: []string{"life"}}} {
		o.Defaults()
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}
