package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
	var errs record.Errors
	for i, f := range facts {
		errs.Append(fmt.Sprintf("facts[%d]", i), f.Validate(now))
	}
	if err := errs.Err(); err != nil {
		return Receipt{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.d.Begin(ctx, true)
	if err != nil {
		return Receipt{}, err
	}
	defer tx.Rollback(ctx)

	events, err := s.toEvents(ctx, tx, now, source, facts)
	if err != nil {
		return Receipt{}, err
	}
	for i := range supersedes {
		events[i].Supersedes = supersedes[i]
	}
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

// toEvents turns validated facts into events: ID numbers are sealed and indexed, persons resolved.
func (s *Store) toEvents(ctx context.Context, tx Tx, now time.Time, source string, facts []record.Fact) ([]journal.Event, error) {
	// Resolve every ID number named, in chunks, against the persons projection and the batch itself.
	known := map[string]string{} // id index → person key
	var want []string
	for _, f := range facts {
		if pf, ok := f.(record.PersonFact); ok && pf.Ref().Person == "" {
			want = append(want, s.keys.IndexID(pf.Ref().IDNumber))
		}
	}
	if err := s.lookupPersons(ctx, tx, want, known); err != nil {
		return nil, err
	}
	var errs record.Errors
	events := make([]journal.Event, 0, len(facts))
	for i, f := range facts {
		e := journal.Event{Type: f.EventType(), Region: s.region, At: now, Source: source}
		field := fmt.Sprintf("facts[%d]", i)
		switch f := f.(type) {
		case *record.PersonRegistered:
			idx := s.keys.IndexID(f.IDNumber)
			if _, dup := known[idx]; dup {
				errs.Append(field+".id_number", record.Errorf(record.EConflict, "person %s is already registered", record.MaskID(f.IDNumber)))
				continue
			}
			f.IDIndex, f.IDSealed = idx, s.keys.SealID(f.IDNumber)
			f.Birth = record.BirthFromID(f.IDNumber).Format("2006-01-02")
			f.Sex = record.SexFromID(f.IDNumber)
			f.Person = idx
			known[idx] = idx
			e.Person = idx
		case *record.EmployerRegistered:
			e.Employer = f.CreditCode
		case *record.EmployerChanged:
			e.Employer = f.CreditCode
		}
		if pf, ok := f.(record.PersonFact); ok {
			ref := pf.Ref()
			if ref.Person == "" {
				p, found := known[s.keys.IndexID(ref.IDNumber)]
				if !found {
					errs.Append(field+".id_number", record.Errorf(record.ENotFound, "no registered person has ID number %s", record.MaskID(ref.IDNumber)))
					continue
				}
				ref.Person = p
			}
			e.Person = ref.Person
			if pc, ok := f.(*record.PersonChanged); ok && pc.NewIDNumber != "" {
				pc.IDIndex, pc.IDSealed = s.keys.IndexID(pc.NewIDNumber), s.keys.SealID(pc.NewIDNumber)
				if _, dup := known[pc.IDIndex]; dup {
					errs.Append(field+".new_id_number", record.Errorf(record.EConflict, "ID number %s belongs to another person", record.MaskID(pc.NewIDNumber)))
					continue
				}
			}
		}
		if c, ok := f.(*record.ContributionPosted); ok {
			e.Employer = c.Employer
		}
		data, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		e.Data = data
		events = append(events, e)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return events, nil
}

func (s *Store) lookupPersons(ctx context.Context, tx Tx, indexes []string, into map[string]string) error {
	const chunk = 500
	for len(indexes) > 0 {
		n := min(chunk, len(indexes))
		args := make([]any, n)
		q := make([]byte, 0, 64+n*5)
		q = append(q, "SELECT id_index, person FROM persons WHERE id_index IN ("...)
		for i := 0; i < n; i++ {
			if i > 0 {
				q = append(q, ',')
			}
			q = fmt.Appendf(q, "$%d", i+1)
			args[i] = indexes[i]
		}
		q = append(q, ')')
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

// AppendEvents appends prepared events as they are (their Seq is assigned here). It is for tools that move
// whole journals — the crash test, migrations between engines — and for the journal tests; business writes go
// through Record.
func (s *Store) AppendEvents(ctx context.Context, events []journal.Event) (Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.d.Begin(ctx, true)
	if err != nil {
		return Receipt{}, err
	}
	defer tx.Rollback(ctx)
	rc, tree, err := s.append(ctx, tx, s.Now().UTC(), events, nil)
	if err != nil {
		return Receipt{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		s.tree = nil
		return Receipt{}, err
	}
	s.tree = tree
	return rc, nil
}

// append writes events, their tree nodes, their projections and a signed checkpoint in tx. facts, when not
// nil, are the facts the events were built from, one for one.
func (s *Store) append(ctx context.Context, tx Tx, now time.Time, events []journal.Event, facts []record.Fact) (Receipt, *journal.Tree, error) {
	var size int64
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(seq)+1, 0) FROM journal_events").Scan(&size); err != nil {
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
	rows := make([][]any, len(events))
	buf := make([]byte, 0, 256*len(events))
	for i := range events {
		e := &events[i]
		e.Seq = size + int64(i)
		start := len(buf)
		buf = e.AppendEncode(buf)
		body := buf[start:len(buf):len(buf)]
		leaf := journal.LeafHash(body)
		tree.Append(leaf)
		rows[i] = []any{e.Seq, e.Type, e.Region, nullable(e.Person), nullable(e.Employer), e.At.UnixMilli(), body, leaf}
	}
	if err := tx.CopyRows(ctx, "journal_events", []string{"seq", "type", "region", "person", "employer", "at", "body", "leaf_hash"}, rows); err != nil {
		return Receipt{}, nil, err
	}
	if nodes := tree.TakeNodes(); len(nodes) > 0 {
		nr := make([][]any, len(nodes))
		for i, n := range nodes {
			nr[i] = []any{int(n.Level), int64(n.Index), n.Hash}
		}
		if err := tx.CopyRows(ctx, "journal_nodes", []string{"level", "idx", "hash"}, nr); err != nil {
			return Receipt{}, nil, err
		}
	}
	p := s.newProjector(tx)
	for i := range events {
		var f record.Fact
		if facts != nil {
			f = facts[i]
		}
		if err := p.apply(ctx, &events[i], f); err != nil {
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

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
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
