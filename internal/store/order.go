package store

import (
	"cmp"
	"slices"
	"strings"

	"sirec/internal/journal"
	"sirec/internal/record"
)

// inPersonOrder puts a batch made only of contribution postings (a monthly batch, R5.3) in person-key order,
// the leading column of the contributions projection's person index, keeping each person's rows in their
// original order, so that the batch is appended to the journal and the projection as one sweep over
// that index instead of one random page per row. The postings of different persons are independent facts:
// their order in the journal carries no meaning, and the review draft keeps the file's row order. Any other
// batch, or one that corrects earlier events, is left as it is.
func inPersonOrder(events []journal.Event, facts []record.Fact, supersedes []int64) ([]journal.Event, []record.Fact) {
	if len(events) < 2 || len(facts) != len(events) {
		return events, facts
	}
	for i, f := range facts {
		if _, ok := f.(*record.ContributionPosted); !ok || (supersedes != nil && supersedes[i] != 0) {
			return events, facts
		}
	}
	// Sorting (person, position) pairs is a stable sort by person, and faster than one over the events.
	type at struct {
		person string
		i      int32
	}
	idx := make([]at, len(events))
	for i := range idx {
		idx[i] = at{events[i].Person, int32(i)}
	}
	slices.SortFunc(idx, func(a, b at) int {
		if c := strings.Compare(a.person, b.person); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	ev := make([]journal.Event, len(events))
	fs := make([]record.Fact, len(facts))
	for i, x := range idx {
		ev[i], fs[i] = events[x.i], facts[x.i]
	}
	return ev, fs
}
