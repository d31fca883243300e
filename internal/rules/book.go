package rules

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"sirec/internal/record"
)

// Book holds the rule sets adopted so far and answers which rules are in force for a region and a month.
//
// The set in force for region R at period p is built in layers: the national sets (region "000000"), then the
// province (R[:2]+"0000"), the prefecture (R[:4]+"00") and R itself, each level the sets effective on or before p
// applied in order of effective_from, each stating only what it changes. A set added later with the same region
// and effective_from but another version replaces the earlier one (a correction). Before the first national set
// takes effect, the first national set is in force (the built-in default takes effect 1998-01).
//
// A Book is safe for concurrent use: At reads an immutable snapshot that Add replaces.
type Book struct {
	mu   sync.Mutex // serialises Add
	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	sets      []*Set               // in the order added
	byRegion  map[string][]*Set    // each region's sets by effective_from; of equal ones, the last added
	timelines map[string][]segment // for each region with sets, the merged set in force from each change point
}

type segment struct {
	from record.Period
	set  *Set
}

// NewBook returns a book holding the built-in national default. The zero Book is the same.
func NewBook() *Book {
	b := &Book{}
	b.load()
	return b
}

// load returns the current snapshot, starting with the built-in default in a zero Book.
func (b *Book) load() *snapshot {
	if sn := b.snap.Load(); sn != nil {
		return sn
	}
	sn := &snapshot{sets: []*Set{Default()}}
	if err := sn.build(); err != nil {
		panic("rules: " + err.Error())
	}
	b.snap.CompareAndSwap(nil, sn)
	return b.snap.Load()
}

// Add validates a set and adds it. Adding a set already in the book (same region, effective_from and version,
// same rules) does nothing, so that replaying the journal is harmless; the same identity with other rules is a
// conflict. Add also refuses a set that would leave the merged rules in force incomplete or inconsistent (a floor
// above the ceiling, say), naming the field.
func (b *Book) Add(s *Set) error {
	if s == nil {
		return record.Invalid("", "required", "no rule set given")
	}
	if err := s.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.load()
	for _, e := range old.sets {
		if e.region == s.region && e.from == s.from && e.version == s.version {
			if e.Equal(s) {
				return nil
			}
			return record.Errorf(record.EConflict, "rule set %q for region %s from %s is already adopted with other rules; give the correction a new version",
				s.version, s.region, formatMonth(s.from))
		}
	}
	next := &snapshot{sets: append(append([]*Set(nil), old.sets...), s)}
	if err := next.build(); err != nil {
		return err
	}
	b.snap.Store(next)
	return nil
}

// Sets returns every set added, in the order added.
func (b *Book) Sets() []*Set { return append([]*Set(nil), b.load().sets...) }

// At returns the complete set in force for a region in a period (see Book). An unknown or malformed region gets
// the national rules.
func (b *Book) At(region string, p record.Period) *Set {
	s, _, _ := b.load().at(region, p)
	return s
}

// at returns the set in force and the periods [from, until) it is in force for.
func (sn *snapshot) at(region string, p record.Period) (s *Set, from, until record.Period) {
	tl := sn.timeline(region)
	i := sort.Search(len(tl), func(i int) bool { return tl[i].from > p })
	until = record.Period(1 << 30)
	if i < len(tl) {
		until = tl[i].from
	}
	if i == 0 {
		return tl[0].set, 0, until
	}
	return tl[i-1].set, tl[i-1].from, until
}

func (sn *snapshot) timeline(region string) []segment {
	if len(region) == 6 {
		for _, r := range [...]string{region, region[:4] + "00", region[:2] + "0000"} {
			if tl, ok := sn.timelines[r]; ok {
				return tl
			}
		}
	}
	return sn.timelines[NationalRegion]
}

// levels returns the regions whose sets make up region's rules, national first.
func levels(region string) []string {
	out := []string{NationalRegion}
	for _, r := range [...]string{region[:2] + "0000", region[:4] + "00", region} {
		if r != out[len(out)-1] && r != NationalRegion {
			out = append(out, r)
		}
	}
	return out
}

func (sn *snapshot) build() error {
	sn.byRegion = map[string][]*Set{}
	for _, s := range sn.sets {
		list := sn.byRegion[s.region]
		replaced := false
		for i, e := range list {
			if e.from == s.from {
				list[i], replaced = s, true
			}
		}
		if !replaced {
			list = append(list, s)
		}
		sort.SliceStable(list, func(i, j int) bool { return list[i].from < list[j].from })
		sn.byRegion[s.region] = list
	}
	sn.timelines = map[string][]segment{}
	regions := make([]string, 0, len(sn.byRegion))
	for r := range sn.byRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	for _, region := range regions {
		lv := levels(region)
		var points []record.Period
		for _, l := range lv {
			for _, s := range sn.byRegion[l] {
				points = append(points, s.from)
			}
		}
		sort.Slice(points, func(i, j int) bool { return points[i] < points[j] })
		var tl []segment
		for i, p := range points {
			if i > 0 && p == points[i-1] {
				continue
			}
			m, err := sn.merge(region, lv, p)
			if err != nil {
				return err
			}
			tl = append(tl, segment{p, m})
		}
		sn.timelines[region] = tl
	}
	return nil
}

// merge builds the complete set in force for region at p.
func (sn *snapshot) merge(region string, lv []string, p record.Period) (*Set, error) {
	var d doc
	var versions []string
	var title string
	for _, l := range lv {
		var last *Set
		for _, s := range sn.byRegion[l] {
			if s.from <= p {
				d, last = overlay(d, s.d), s
			}
		}
		if last == nil && l == NationalRegion {
			if list := sn.byRegion[l]; len(list) > 0 {
				last = list[0]
				d = overlay(d, last.d)
			}
		}
		if last != nil {
			versions = append(versions, last.version)
			title = last.title
		}
	}
	m := &Set{version: strings.Join(versions, "+"), region: region, from: p, title: title, d: d}
	if err := m.resolve(); err != nil {
		var e *record.Error
		if errors.As(err, &e) {
			c := *e
			c.Message = "rules in force for region " + region + " from " + formatMonth(p) + ": " + c.Message
			return nil, &c
		}
		return nil, err
	}
	return m, nil
}
