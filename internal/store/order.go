package store

import (
	"cmp"
	"slices"

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
	idx := make([]int32, len(events))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(events[a].Person, events[b].Person) })
	ev := make([]journal.Event, len(events))
	fs := make([]record.Fact, len(facts))
	for i, j := range idx {
		ev[i], fs[i] = events[j], facts[j]
	}
	return ev, fs
}
