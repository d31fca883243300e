package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"sirec/internal/journal"
	"sirec/internal/keyring"
	"sirec/internal/record"
)

// Store is the journal and its projections on one engine.
type Store struct {
	d      Driver
	keys   *keyring.Keyring
	region string
	rules  Rules
	// Now is the clock; tests replace it. Each write takes it once (transactions own their time).
	Now func() time.Time

	mu   sync.Mutex    // the one sequencing writer of this process
	tree *journal.Tree // frontier after the last append seen, nil when unknown
}

// Config says what a Store needs.
type Config struct {
	Region string // the agency's 6-digit region code, recorded on every event
	Rules  Rules  // the rules engine; nil for the built-in default
}

// New opens a store on an engine: it applies pending schema migrations (recorded and versioned) and returns
// a store ready to append.
func New(ctx context.Context, d Driver, keys *keyring.Keyring, cfg Config) (*Store, error) {
	if err := record.ValidateRegion("region", cfg.Region); err != nil {
		return nil, err
	}
	if _, err := Migrate(ctx, d, time.Now()); err != nil {
		return nil, err
	}
	s := &Store{d: d, keys: keys, region: cfg.Region, rules: cfg.Rules, Now: time.Now}
	if s.rules == nil {
		s.rules = DefaultRules()
	}
	if err := s.loadRules(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Driver returns the engine.
func (s *Store) Driver() Driver { return s.d }

// Keys returns the keyring.
func (s *Store) Keys() *keyring.Keyring { return s.keys }

// Region returns the agency's region code.
func (s *Store) Region() string { return s.region }

// Close closes the engine.
func (s *Store) Close() error { return s.d.Close() }

// Receipt tells what an append recorded.
type Receipt struct {
	First, Count int64 // seqs [First, First+Count)
	Checkpoint   journal.Checkpoint
	Signed       []byte
}

// Record validates facts, resolves the persons they name, and appends them as events in one transaction with
// their projections and a new signed checkpoint: all or nothing (I6). Every invalid fact is reported, with its
// index as the field prefix ("facts[12].period"), and then nothing is written. source names the approved draft
// or procedure the facts come from.
//
// Record is the only way a record is written (I1): the review workflow calls it on final approval.
func (s *Store) Record(ctx context.Context, source string, facts []record.Fact) (Receipt, error) {
	return s.record(ctx, source, facts, nil, nil)
}

// RecordWith is Record with also run inside the same transaction after the events are appended: the review
// workflow marks its draft approved there, so that a draft is approved exactly when its events are recorded.
// An error from also records nothing.
func (s *Store) RecordWith(ctx context.Context, source string, facts []record.Fact, also func(ctx context.Context, tx Tx, rc Receipt) error) (Receipt, error) {
	return s.record(ctx, source, facts, nil, also)
}

// Correct records fact as the correction of the event at seq (a superseding event; nothing is changed).
func (s *Store) Correct(ctx context.Context, source string, seq int64, fact record.Fact) (Receipt, error) {
	return s.record(ctx, source, []record.Fact{fact}, []int64{seq + 1}, nil)
}

func (s *Store) record(ctx context.Context, source string, facts []record.Fact, supersedes []int64, also func(context.Context, Tx, Receipt) error) (Receipt, error) {
	now := s.Now().UTC().Truncate(time.Millisecond)
	if len(facts) == 0 {
		return Receipt{}, record.Invalid("facts", "required", "nothing to record")
	}
	if err := validateFacts(facts, now); err != nil {
		return Receipt{}, err
	}
	facts, supersedes = unwrapCorrections(facts, supersedes)
	ids := s.indexIDs(facts)

	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.d.Begin(ctx, true)
	if err != nil {
		return Receipt{}, err
	}
	defer tx.Rollback(ctx)

	events, err := s.toEvents(ctx, tx, now, source, facts, ids)
	if err != nil {
		return Receipt{}, err
	}
	if err := refuseTransferredOut(ctx, tx, events); err != nil {
		return Receipt{}, err
	}
	for i := range supersedes {
		events[i].Supersedes = supersedes[i]
	}
	events, facts = inPersonOrder(events, facts, supersedes)
	rc, tree, err := s.append(ctx, tx, now, events, facts)
	if err != nil {
		return Receipt{}, err
	}
	if also != nil {
		if err := also(ctx, tx, rc); err != nil {
			return Receipt{}, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		s.tree = nil
		return Receipt{}, err
	}
	s.tree = tree
	return rc, nil
}

// unwrapCorrections replaces each record.Correction by the fact it carries and notes the event it supersedes
// (seq+1, as events store it). It copies facts only when there is a correction.
func unwrapCorrections(facts []record.Fact, supersedes []int64) ([]record.Fact, []int64) {
	var out []record.Fact
	for i, f := range facts {
		c, ok := f.(*record.Correction)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]record.Fact(nil), facts...)
			sup := make([]int64, len(facts))
			copy(sup, supersedes)
			supersedes = sup
		}
		out[i], supersedes[i] = c.Fact, c.Seq+1
	}
	if out == nil {
		return facts, supersedes
	}
	return out, supersedes
}

// validateFacts checks every fact on its own, in parallel, and reports every problem in fact order.
func validateFacts(facts []record.Fact, now time.Time) error {
	const chunk = 2048
	errs := make([]record.Errors, (len(facts)+chunk-1)/chunk)
	parallel(len(facts), chunk, func(lo, hi int) {
		var es record.Errors
		for i := lo; i < hi; i++ {
			if err := facts[i].Validate(now); err != nil {
				es.Append(fmt.Sprintf("facts[%d]", i), err)
			}
		}
		errs[lo/chunk] = es
	})
	var all record.Errors
	for _, es := range errs {
		all = append(all, es...)
	}
	return all.Err()
}

// factIDs are the keyed hashes (I7) of the ID numbers a batch names: each distinct number is hashed once.
type factIDs struct {
	of    []int32  // per fact: index into index, -1 when the fact names no person by ID number
	index []string // per distinct ID number: its keyed hash
}

func (f *factIDs) at(i int) string { return f.index[f.of[i]] }

// indexIDs computes the keyed hash of every distinct ID number by which the facts name a person.
func (s *Store) indexIDs(facts []record.Fact) factIDs {
	ids := factIDs{of: make([]int32, len(facts))}
	pos := map[string]int32{}
	var numbers []string
	for i, f := range facts {
		ids.of[i] = -1
		pf, ok := f.(record.PersonFact)
		if !ok || pf.Ref().Person != "" {
			continue
		}
		n := pf.Ref().IDNumber
		p, seen := pos[n]
		if !seen {
			p = int32(len(numbers))
			pos[n] = p
			numbers = append(numbers, n)
		}
		ids.of[i] = p
	}
	ids.index = make([]string, len(numbers))
	parallel(len(numbers), 1024, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ids.index[i] = s.keys.IndexID(numbers[i])
		}
	})
	return ids
}

// toEvents turns validated facts into events: ID numbers are sealed, persons resolved. The events' data is
// left for append to encode.
func (s *Store) toEvents(ctx context.Context, tx Tx, now time.Time, source string, facts []record.Fact, ids factIDs) ([]journal.Event, error) {
	// Resolve every ID number named against the persons projection and the batch itself.
	known := make(map[string]string, len(ids.index)) // id index → person key
	if err := s.lookupPersons(ctx, tx, "id_index", ids.index, known); err != nil {
		return nil, err
	}
	// A change of ID number must not take another person's number; a registration's person key is its ID
	// number's index, unless a person registered under that number, who has since changed it, holds the key
	// (a number given up by one person and then registered by another). Both are looked up only when the
	// batch has such facts.
	var newIndex map[int]string // fact → keyed hash of its new ID number
	var changed, regKeys []string
	for i, f := range facts {
		switch f := f.(type) {
		case *record.PersonRegistered:
			regKeys = append(regKeys, ids.at(i))
		case *record.PersonChanged:
			if f.NewIDNumber != "" {
				if newIndex == nil {
					newIndex = map[int]string{}
				}
				newIndex[i] = s.keys.IndexID(f.NewIDNumber)
				changed = append(changed, newIndex[i])
			}
		}
	}
	if err := s.lookupPersons(ctx, tx, "id_index", changed, known); err != nil {
		return nil, err
	}
	takenKeys := map[string]string{}
	if err := s.lookupPersons(ctx, tx, "person", regKeys, takenKeys); err != nil {
		return nil, err
	}
	var errs record.Errors
	events := make([]journal.Event, 0, len(facts))
	for i, f := range facts {
		e := journal.Event{Type: f.EventType(), Region: s.region, At: now, Source: source}
		switch f := f.(type) {
		case *record.PersonRegistered:
			idx := ids.at(i)
			if _, dup := known[idx]; dup {
				errs.Append(fmt.Sprintf("facts[%d].id_number", i), record.Errorf(record.EConflict, "person %s is already registered", record.MaskID(f.IDNumber)))
				continue
			}
			key, err := s.personKey(ctx, tx, f.IDNumber, idx, takenKeys)
			if err != nil {
				return nil, err
			}
			f.IDIndex, f.IDSealed = idx, s.keys.SealID(f.IDNumber)
			f.Birth = record.BirthFromID(f.IDNumber).Format("2006-01-02")
			f.Sex = record.SexFromID(f.IDNumber)
			f.Person = key
			known[idx] = key
			takenKeys[key] = key
			e.Person = key
		case *record.EmployerRegistered:
			e.Employer = f.CreditCode
		case *record.EmployerChanged:
			e.Employer = f.CreditCode
		}
		if pf, ok := f.(record.PersonFact); ok {
			ref := pf.Ref()
			if ref.Person == "" {
				p, found := known[ids.at(i)]
				if !found {
					errs.Append(fmt.Sprintf("facts[%d].id_number", i), record.Errorf(record.ENotFound, "no registered person has ID number %s", record.MaskID(ref.IDNumber)))
					continue
				}
				ref.Person = p
			}
			e.Person = ref.Person
			if pc, ok := f.(*record.PersonChanged); ok {
				// The index, sealed number, birth and sex are the store's to derive from a new ID number; values
				// that came in with the fact (a crafted draft) would repoint the person's identity.
				pc.IDIndex, pc.IDSealed, pc.Birth, pc.Sex = "", nil, "", ""
				if pc.NewIDNumber != "" {
					nidx := newIndex[i]
					switch holder, dup := known[nidx]; {
					case dup && holder == ref.Person:
						errs.Append(fmt.Sprintf("facts[%d]", i), record.Invalid("new_id_number", "new_id_differs", "the person already has ID number %s", record.MaskID(pc.NewIDNumber)))
						continue
					case dup:
						errs.Append(fmt.Sprintf("facts[%d].new_id_number", i), record.Errorf(record.EConflict, "ID number %s belongs to another person", record.MaskID(pc.NewIDNumber)))
						continue
					}
					pc.IDIndex, pc.IDSealed = nidx, s.keys.SealID(pc.NewIDNumber)
					pc.Birth = record.BirthFromID(pc.NewIDNumber).Format("2006-01-02")
					pc.Sex = record.SexFromID(pc.NewIDNumber)
					known[nidx] = ref.Person
				}
			}
		}
		if c, ok := f.(*record.ContributionPosted); ok {
			e.Employer = c.Employer
		}
		events = append(events, e)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return events, nil
}

// journalSize returns the number of events in the journal.
func journalSize(ctx context.Context, tx Tx) (int64, error) {
	var size int64
	err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(seq)+1, 0) FROM journal_events").Scan(&size)
	return size, err
}

// personKey is the key of a person registered with ID number id, whose keyed hash is idx: idx itself, unless
// taken (a key → person map of the keys known to be held) holds it; then the first of idx's derived keys no
// person holds.
func (s *Store) personKey(ctx context.Context, tx Tx, id, idx string, taken map[string]string) (string, error) {
	key := idx
	for n := 2; ; n++ {
		if _, held := taken[key]; !held {
			if key == idx {
				return key, nil // the batch's lookup found nobody holding it
			}
			var one int
			err := tx.QueryRow(ctx, "SELECT 1 FROM persons WHERE person = $1", key).Scan(&one)
			if errors.Is(err, ErrNoRows) {
				return key, nil
			}
			if err != nil {
				return "", err
			}
			taken[key] = key
		}
		key = s.keys.IndexID(id + "#" + strconv.Itoa(n))
	}
}

// lookupPersons adds to into, for each of keys that a person has in column col (id_index or person), the key
// and the person's key.
func (s *Store) lookupPersons(ctx context.Context, tx Tx, col string, indexes []string, into map[string]string) error {
	// PostgreSQL takes the keys as one array parameter: a statement with 500 parameters costs it more to bind
	// and plan than to run (a monthly batch of 100,000 persons spent a second in 200 such lookups). SQLite,
	// in process, has no arrays and no such cost.
	pg := s.d.Name() == "postgres"
	chunk := 500
	if pg {
		chunk = 20000
	}
	for len(indexes) > 0 {
		n := min(chunk, len(indexes))
		var q []byte
		var args []any
		if pg {
			q = []byte("SELECT " + col + ", person FROM persons WHERE " + col + " = ANY($1)")
			args = []any{indexes[:n]}
		} else {
			args = make([]any, n)
			q = make([]byte, 0, 64+n*5)
			q = append(q, "SELECT "+col+", person FROM persons WHERE "+col+" IN ("...)
			for i := 0; i < n; i++ {
				if i > 0 {
					q = append(q, ',')
				}
				q = fmt.Appendf(q, "$%d", i+1)
				args[i] = indexes[i]
			}
			q = append(q, ')')
		}
		rows, err := tx.Query(ctx, string(q), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var idx, p string
			if err := rows.Scan(&idx, &p); err != nil {
				rows.Close()
				return err
			}
			into[idx] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		indexes = indexes[n:]
	}
	return nil
}

// append writes events, their tree nodes, their projections and a signed checkpoint in tx. facts, when not
// nil, are the facts the events were built from, one for one; an event without data gets its fact's JSON.
func (s *Store) append(ctx context.Context, tx Tx, now time.Time, events []journal.Event, facts []record.Fact) (Receipt, *journal.Tree, error) {
	size, err := journalSize(ctx, tx)
	if err != nil {
		return Receipt{}, nil, err
	}
	tree := s.tree
	if tree == nil || tree.Size() != uint64(size) {
		t, err := journal.Frontier(ctx, hashReader{tx}, uint64(size))
		if err != nil {
			return Receipt{}, nil, fmt.Errorf("journal frontier: %w", err)
		}
		tree = t
	}
	tree = tree.Clone()
	p := s.newProjector(tx)
	if err := writeEvents(ctx, tx, size, events, facts, tree, p); err != nil {
		return Receipt{}, nil, err
	}
	if nodes := tree.TakeNodes(); len(nodes) > 0 {
		nr := make([][]any, len(nodes))
		for i, n := range nodes {
			nr[i] = []any{int64(n.Level), int64(n.Index), n.Hash}
		}
		if err := tx.CopyRows(ctx, "journal_nodes", []string{"level", "idx", "hash"}, nr); err != nil {
			return Receipt{}, nil, err
		}
	}
	if err := p.flush(ctx); err != nil {
		return Receipt{}, nil, err
	}
	cp := journal.Checkpoint{Origin: s.keys.Origin, Size: tree.Size(), Root: tree.Root()}
	signed, err := cp.Sign(s.keys.Signer)
	if err != nil {
		return Receipt{}, nil, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO journal_checkpoints (size, at, signed) VALUES ($1, $2, $3)", int64(cp.Size), now.UnixMilli(), string(signed)); err != nil {
		return Receipt{}, nil, err
	}
	return Receipt{First: size, Count: int64(len(events)), Checkpoint: cp, Signed: signed}, tree, nil
}

// appendChunk is the number of events prepared together: encoded, hashed and written as one unit. The first
// chunk is smaller (firstChunk), so that the writer starts soon.
const (
	appendChunk = 4096
	firstChunk  = 256
)

// chunkBounds returns the start of each chunk of n events, and n.
func chunkBounds(n int) []int {
	b := []int{0}
	lo := 0
	if n > firstChunk {
		lo = firstChunk
		b = append(b, lo)
	}
	for lo < n {
		lo = min(n, lo+appendChunk)
		b = append(b, lo)
	}
	return b
}

// preparedChunk is a chunk of events made ready for the journal by a worker.
type preparedChunk struct {
	done    chan struct{}
	rows    [][]any       // journal rows: seq, body, leaf hash
	leaves  [][32]byte    // leaf hashes, in order
	tree    *journal.Tree // the part of the tree the chunk's leaves make
	contrib [][]any       // per event: its contributions row made ahead, or nil
	err     error
}

var journalCols = []string{"seq", "body", "leaf_hash"}

// rowAppender is implemented by a Tx with a faster way to insert rows that go at the end of a table keyed by an
// ascending integer, as the journal's do (SQLite: multi-row INSERTs).
type rowAppender interface {
	AppendRows(ctx context.Context, table string, cols []string, rows [][]any) error
}

// streamCopier is implemented by a Tx that can bulk-insert rows as a function produces them, in one statement
// (PostgreSQL: one COPY rather than one per chunk). next returns a nil row at the end.
type streamCopier interface {
	CopyFunc(ctx context.Context, table string, cols []string, next func() ([]any, error)) error
}

// writeEvents assigns the events their seqs from size on and writes them with their projections. The work that
// needs no order — a fact's JSON, the canonical encoding, the leaf hash, the part of the tree, the
// contributions rows that depend on nothing the batch changes — is done in chunks by GOMAXPROCS workers while
// this goroutine, the one writer, adds the finished chunks to the tree and the database in journal order. The
// result is the same bytes whatever the number of workers.
//
// Where the engine streams (PostgreSQL) the whole journal goes in one COPY as the chunks get ready and the
// projections follow; otherwise each chunk's events go in, then their projections.
func writeEvents(ctx context.Context, tx Tx, size int64, events []journal.Event, facts []record.Fact, tree *journal.Tree, p *projector) error {
	n := len(events)
	maker, err := p.rowMaker(ctx, events, facts)
	if err != nil {
		return err
	}
	bounds := chunkBounds(n)
	chunks := make([]preparedChunk, len(bounds)-1)
	for c := range chunks {
		chunks[c].done = make(chan struct{})
	}
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	for w := min(runtime.GOMAXPROCS(0), len(chunks)); w > 0; w-- {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lh journal.LeafHasher
			for !stop.Load() {
				c := int(next.Add(1) - 1)
				if c >= len(chunks) {
					return
				}
				lo, hi := bounds[c], bounds[c+1]
				chunks[c].err = prepareChunk(&chunks[c], &lh, size, events[lo:hi], lo, facts, maker)
				close(chunks[c].done)
			}
		}()
	}
	// ready waits for chunk c and adds its part of the tree.
	ready := func(c int) (*preparedChunk, error) {
		ch := &chunks[c]
		select {
		case <-ch.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if ch.err != nil {
			return nil, ch.err
		}
		if err := tree.Join(ch.tree); err != nil {
			return nil, fmt.Errorf("journal tree: %w", err)
		}
		ch.tree = nil
		return ch, nil
	}
	// project applies chunk c's events to the projections.
	project := func(c int) error {
		ch := &chunks[c]
		lo := bounds[c]
		for i := range ch.leaves {
			var f record.Fact
			if facts != nil {
				f = facts[lo+i]
			}
			var err error
			if ch.contrib != nil && ch.contrib[i] != nil {
				err = p.add(ctx, "contributions", colsContributions, ch.contrib[i])
			} else {
				err = p.apply(ctx, &events[lo+i], f)
			}
			if err != nil {
				return err
			}
		}
		ch.contrib = nil
		return nil
	}

	if sc, ok := tx.(streamCopier); ok {
		c, i := 0, 0
		err := sc.CopyFunc(ctx, "journal_events", journalCols, func() ([]any, error) {
			for c < len(chunks) {
				if i == 0 {
					if _, err := ready(c); err != nil {
						return nil, err
					}
				}
				if ch := &chunks[c]; i < len(ch.rows) {
					i++
					return ch.rows[i-1], nil
				}
				chunks[c].rows = nil
				c, i = c+1, 0
			}
			return nil, nil
		})
		if err != nil {
			return err
		}
		for c := range chunks {
			if err := project(c); err != nil {
				return err
			}
		}
		return nil
	}
	for c := range chunks {
		ch, err := ready(c)
		if err != nil {
			return err
		}
		insert := tx.CopyRows
		if ra, ok := tx.(rowAppender); ok {
			insert = ra.AppendRows
		}
		if err := insert(ctx, "journal_events", journalCols, ch.rows); err != nil {
			return err
		}
		ch.rows = nil
		if err := project(c); err != nil {
			return err
		}
	}
	return nil
}

// prepareChunk encodes and hashes events (the chunk starting at batch index lo).
func prepareChunk(ch *preparedChunk, lh *journal.LeafHasher, size int64, events []journal.Event, lo int, facts []record.Fact, maker *rowMaker) error {
	ends := make([]int, len(events))
	var buf []byte
	for i := range events {
		e := &events[i]
		e.Seq = size + int64(lo+i)
		if e.Data == nil && facts != nil {
			data, err := factJSON(facts[lo+i])
			if err != nil {
				return err
			}
			e.Data = data
		}
		if buf == nil {
			buf = make([]byte, 0, len(events)*(200+len(e.Data)))
		}
		buf = e.AppendEncode(buf)
		ends[i] = len(buf)
	}
	ch.leaves = make([][32]byte, len(events))
	ch.rows = make([][]any, len(events))
	ch.tree = journal.NewTreeAt(uint64(size) + uint64(lo))
	vals := make([]any, 3*len(events))
	start := 0
	for i := range events {
		body := buf[start:ends[i]:ends[i]]
		start = ends[i]
		lh.Sum(&ch.leaves[i], body)
		ch.tree.Append(ch.leaves[i][:])
		row := vals[3*i : 3*i+3 : 3*i+3]
		row[0], row[1], row[2] = events[i].Seq, body, ch.leaves[i][:]
		ch.rows[i] = row
	}
	if maker != nil {
		ch.contrib = make([][]any, len(events))
		n := len(colsContributions)
		vals := make([]any, n*len(events))
		var bx boxes
		for i := range events {
			row := vals[n*i : n*i+n : n*i+n]
			if maker.contribution(row, &bx, &events[i], facts[lo+i]) {
				ch.contrib[i] = row
			}
		}
	}
	return nil
}

// factJSON returns a fact's JSON: its event data.
func factJSON(f record.Fact) (json.RawMessage, error) {
	if c, ok := f.(*record.ContributionPosted); ok && contributionJSONFast {
		if b, ok := contributionJSON(c); ok {
			return b, nil
		}
	}
	return json.Marshal(f)
}

// contributionJSONFast says whether record.ContributionPosted still has the JSON fields contributionJSON
// writes, in that order; if the type changes, every fact goes through encoding/json again.
var contributionJSONFast = func() bool {
	want := []string{"-", "employer,omitempty", "late_days,omitempty", "period", "status", "type", "wage"}
	t := reflect.TypeFor[record.ContributionPosted]()
	if t.NumField() != len(want) {
		return false
	}
	for i, w := range want {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && f.Type == reflect.TypeFor[record.PersonRef]() && w == "-" {
			continue
		}
		if tag != w {
			return false
		}
	}
	return true
}()

// contributionJSON writes the JSON encoding/json writes for a contribution — the bulk of every large batch —
// without reflection. It declines (false) a fact with a string encoding/json would escape.
func contributionJSON(c *record.ContributionPosted) ([]byte, bool) {
	if !jsonPlain(c.Employer) || !jsonPlain(c.Status) || !jsonPlain(c.Type) {
		return nil, false
	}
	b := make([]byte, 0, 64+len(c.Employer))
	b = append(b, '{')
	if c.Employer != "" {
		b = append(b, `"employer":"`...)
		b = append(b, c.Employer...)
		b = append(b, `",`...)
	}
	if c.LateDays != 0 {
		b = append(b, `"late_days":`...)
		b = strconv.AppendInt(b, int64(c.LateDays), 10)
		b = append(b, ',')
	}
	b = append(b, `"period":"`...)
	b = strconv.AppendInt(b, int64(c.Period), 10)
	b = append(b, `","status":"`...)
	b = append(b, c.Status...)
	b = append(b, `","type":"`...)
	b = append(b, c.Type...)
	b = append(b, `","wage":`...)
	b = strconv.AppendInt(b, c.Wage, 10)
	return append(b, '}'), true
}

// jsonPlain reports whether encoding/json writes s between quotes as it is: printable ASCII without the
// characters it escapes.
func jsonPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// hashReader reads the tree's stored hashes in a transaction.
type hashReader struct{ tx Tx }

func (r hashReader) LeafHashes(ctx context.Context, begin, end uint64) ([][]byte, error) {
	return r.hashes(ctx, "SELECT leaf_hash FROM journal_events WHERE seq >= $1 AND seq < $2 ORDER BY seq", int64(begin), int64(end))
}

func (r hashReader) Nodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error) {
	return r.hashes(ctx, "SELECT hash FROM journal_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx", int(level), int64(begin), int64(end))
}

func (r hashReader) hashes(ctx context.Context, q string, args ...any) ([][]byte, error) {
	rows, err := r.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// LatestCheckpoint returns the latest signed checkpoint, checked against the agency's key.
func (s *Store) LatestCheckpoint(ctx context.Context) (journal.Checkpoint, []byte, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return journal.Checkpoint{}, nil, err
	}
	defer tx.Rollback(ctx)
	var signed string
	err = tx.QueryRow(ctx, "SELECT signed FROM journal_checkpoints ORDER BY size DESC LIMIT 1").Scan(&signed)
	if errors.Is(err, ErrNoRows) {
		return journal.Checkpoint{Origin: s.keys.Origin, Root: journal.NewTree().Root()}, nil, nil
	}
	if err != nil {
		return journal.Checkpoint{}, nil, err
	}
	cp, err := journal.OpenCheckpoint([]byte(signed), s.keys.Verifier)
	return cp, []byte(signed), err
}

// Event reads one event by seq.
func (s *Store) Event(ctx context.Context, seq int64) (journal.Event, []byte, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return journal.Event{}, nil, err
	}
	defer tx.Rollback(ctx)
	var body []byte
	if err := tx.QueryRow(ctx, "SELECT body FROM journal_events WHERE seq = $1", seq).Scan(&body); err != nil {
		if errors.Is(err, ErrNoRows) {
			return journal.Event{}, nil, record.Errorf(record.ENotFound, "event %d does not exist", seq)
		}
		return journal.Event{}, nil, err
	}
	e, err := journal.Decode(body)
	return e, body, err
}

// InclusionProof proves that event seq is in the tree of the given size.
func (s *Store) InclusionProof(ctx context.Context, seq int64, size uint64) ([][]byte, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	return journal.InclusionProof(ctx, hashReader{tx}, uint64(seq), size)
}

// ConsistencyProof proves that the tree of size1 is a prefix of the tree of size2.
func (s *Store) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([][]byte, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	return journal.ConsistencyProof(ctx, hashReader{tx}, size1, size2)
}

// Checkpoint returns the signed checkpoint of exactly the given size.
func (s *Store) Checkpoint(ctx context.Context, size uint64) (journal.Checkpoint, error) {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return journal.Checkpoint{}, err
	}
	defer tx.Rollback(ctx)
	var signed string
	if err := tx.QueryRow(ctx, "SELECT signed FROM journal_checkpoints WHERE size = $1", int64(size)).Scan(&signed); err != nil {
		return journal.Checkpoint{}, err
	}
	return journal.OpenCheckpoint([]byte(signed), s.keys.Verifier)
}

// parallel runs fn over [0, n) in chunks of the given size on up to GOMAXPROCS goroutines.
func parallel(n, chunk int, fn func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if workers <= 1 {
		for lo := 0; lo < n; lo += chunk {
			fn(lo, min(lo+chunk, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				fn(lo, min(lo+chunk, n))
			}
		}()
	}
	wg.Wait()
}
