package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/rules"
)

// ErrTampered is wrapped by every verification failure.
var ErrTampered = errors.New("verification failed")

// Progress receives the number of events checked so far; nil for none.
type Progress func(done, total int64)

// VerifyReport is the outcome of a successful verification.
type VerifyReport struct {
	Events      int64
	Root        []byte
	Checkpoints int
	Rows        map[string]int64 // projection rows compared, by table
}

// RootHex returns the root as hex.
func (r VerifyReport) RootHex() string { return hex.EncodeToString(r.Root) }

const verifyChunk = 20000

// Verify checks everything a direct edit of the database could have changed (R6.3, I3): every signed
// checkpoint's signature under the agency's public key; every event's seq, canonical encoding, index columns
// and leaf hash; the stored tree nodes; the tree root at every checkpoint size; that no event lies beyond the
// latest checkpoint; and, by replaying the whole journal through the rules into temporary shadow tables, that
// every projection row is what the journal implies. It needs only the database, the verifier key and the
// rules. The first problem found is returned, wrapping ErrTampered, naming the event or row.
func Verify(ctx context.Context, d Driver, v note.Verifier, rules Rules, progress Progress) (VerifyReport, error) {
	return verify(ctx, d, v, rules, progress, true)
}

// VerifyJournal checks the journal alone, not the projections: every signed checkpoint's signature, every
// event's leaf hash from its body, the stored tree nodes, the tree root at every checkpoint size, and that no
// event lies beyond the latest checkpoint. A change to any event's bytes, an event added, removed or moved, is
// found: the bodies hash to the roots the agency signed. It does not decode the events nor replay them, so it
// runs at close to the speed of reading the rows; Verify does everything VerifyJournal does and then checks
// the projections against the journal.
func VerifyJournal(ctx context.Context, d Driver, v note.Verifier, progress Progress) (VerifyReport, error) {
	return verify(ctx, d, v, nil, progress, false)
}

func verify(ctx context.Context, d Driver, v note.Verifier, rules Rules, progress Progress, full bool) (VerifyReport, error) {
	rep := VerifyReport{Rows: map[string]int64{}}
	tx, err := d.Session(ctx)
	if err != nil {
		return rep, err
	}
	defer tx.Rollback(ctx)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrTampered, fmt.Sprintf(format, args...))
	}

	// Signed checkpoints, oldest first.
	type cpAt struct {
		size uint64
		root []byte
	}
	var cps []cpAt
	rows, err := tx.Query(ctx, "SELECT size, signed FROM journal_checkpoints ORDER BY size")
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var size int64
		var signed string
		if err := rows.Scan(&size, &signed); err != nil {
			rows.Close()
			return rep, err
		}
		cp, err := journal.OpenCheckpoint([]byte(signed), v)
		if err != nil {
			rows.Close()
			return rep, fail("checkpoint of size %d: %v", size, err)
		}
		if cp.Size != uint64(size) {
			rows.Close()
			return rep, fail("checkpoint row of size %d holds a signed checkpoint of size %d", size, cp.Size)
		}
		cps = append(cps, cpAt{cp.Size, cp.Root})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, err
	}
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM journal_events").Scan(&total); err != nil {
		return rep, err
	}
	var latest uint64
	if len(cps) > 0 {
		latest = cps[len(cps)-1].size
	}
	if len(cps) == 0 && total > 0 {
		return rep, fail("the journal holds %d events but no signed checkpoint", total)
	}

	// Shadow projections: temporary tables named like the real ones hide them for unqualified SQL.
	var proj *projector
	if full {
		for _, t := range ProjectionTables {
			if _, err := tx.Exec(ctx, d.CreateShadow(t.Name)); err != nil {
				return rep, fmt.Errorf("shadow %s: %w", t.Name, err)
			}
		}
		proj = newProjector(tx, rules.Fresh())
	}

	tree := journal.NewTree()
	next := 0 // next checkpoint to reach
	var seq int64
	for {
		rows, err := tx.Query(ctx, "SELECT seq, body, leaf_hash FROM journal_events WHERE seq >= $1 ORDER BY seq LIMIT $2", seq, verifyChunk)
		if err != nil {
			return rep, err
		}
		var batch []journal.Event
		var firstSeq = seq
		for rows.Next() {
			var s int64
			var body, leaf []byte
			if err := rows.Scan(&s, &body, &leaf); err != nil {
				rows.Close()
				return rep, err
			}
			if s != seq {
				rows.Close()
				if s < seq {
					return rep, fail("event %d appears twice", s)
				}
				return rep, fail("event %d is missing (the journal jumps from %d to %d)", seq, seq-1, s)
			}
			var e journal.Event
			if full {
				if e, err = journal.Decode(body); err != nil {
					rows.Close()
					return rep, fail("event %d: %v", s, err)
				}
				if e.Seq != s {
					rows.Close()
					return rep, fail("event %d: its body says it is event %d (events moved or swapped)", s, e.Seq)
				}
			}
			h := journal.LeafHash(body)
			if !bytes.Equal(h, leaf) {
				rows.Close()
				return rep, fail("event %d: body does not match its leaf hash (the event was changed)", s)
			}
			tree.Append(h)
			seq++
			for next < len(cps) && cps[next].size == tree.Size() {
				if !bytes.Equal(tree.Root(), cps[next].root) {
					rows.Close()
					return rep, fail("tree root at size %d differs from its signed checkpoint (events up to %d were changed, reordered or replaced)", tree.Size(), tree.Size()-1)
				}
				next++
			}
			if full {
				batch = append(batch, e)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return rep, err
		}
		if err := checkNodes(ctx, tx, tree.TakeNodes(), firstSeq, seq); err != nil {
			return rep, fail("%v", err)
		}
		for i := range batch {
			if err := proj.apply(ctx, &batch[i], nil); err != nil {
				return rep, fail("replaying event %d: %v", batch[i].Seq, err)
			}
		}
		if full {
			if err := proj.flush(ctx); err != nil {
				return rep, err
			}
		}
		if progress != nil {
			progress(seq, total)
		}
		if seq-firstSeq < verifyChunk {
			break
		}
	}
	if uint64(seq) > latest {
		return rep, fail("event %d is not covered by any signed checkpoint (latest covers %d events): added behind the application's back", latest, latest)
	}
	if uint64(seq) < latest {
		return rep, fail("the signed checkpoint covers %d events but the journal holds only %d: event %d and later are missing", latest, seq, seq)
	}
	if next != len(cps) {
		return rep, fail("checkpoint of size %d does not match the journal", cps[next].size)
	}
	var extraNodes int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM journal_nodes WHERE idx >= ($1 / (1 << level))", seq).Scan(&extraNodes); err == nil && extraNodes > 0 {
		return rep, fail("%d stored tree nodes lie beyond the journal's end", extraNodes)
	}

	rep.Events = seq
	rep.Root = tree.Root()
	rep.Checkpoints = len(cps)
	if !full {
		return rep, nil
	}
	for _, t := range ProjectionTables {
		mainT, tempT := d.Qualify(t.Name)
		var key string
		err := tx.QueryRow(ctx, fmt.Sprintf("SELECT CAST(%s AS TEXT) FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s) d ORDER BY 1 LIMIT 1", t.Key, mainT, tempT)).Scan(&key)
		if err == nil {
			return rep, fail("projection %s: row %s=%s is not what the journal implies (changed or added)", t.Name, t.Key, key)
		}
		if !errors.Is(err, ErrNoRows) {
			return rep, err
		}
		err = tx.QueryRow(ctx, fmt.Sprintf("SELECT CAST(%s AS TEXT) FROM (SELECT * FROM %s EXCEPT SELECT * FROM %s) d ORDER BY 1 LIMIT 1", t.Key, tempT, mainT)).Scan(&key)
		if err == nil {
			return rep, fail("projection %s: row %s=%s is missing or changed", t.Name, t.Key, key)
		}
		if !errors.Is(err, ErrNoRows) {
			return rep, err
		}
		var n int64
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM "+mainT).Scan(&n); err != nil {
			return rep, err
		}
		rep.Rows[t.Name] = n
	}
	if br, ok := proj.rules.(*bookRules); ok {
		if err := crossCheck(ctx, tx, d, br.book); err != nil {
			return rep, fail("%v", err)
		}
	}
	rep.Events = seq
	rep.Root = tree.Root()
	rep.Checkpoints = len(cps)
	return rep, nil
}

// checkNodes compares the nodes the replayed tree completed over [from, to) with the stored ones.
func checkNodes(ctx context.Context, tx Tx, want []journal.Node, from, to int64) error {
	byLevel := map[uint][]journal.Node{}
	for _, n := range want {
		byLevel[n.Level] = append(byLevel[n.Level], n)
	}
	for level, ns := range byLevel {
		got, err := hashReader{tx}.Nodes(ctx, level, ns[0].Index, ns[len(ns)-1].Index+1)
		if err != nil {
			return err
		}
		if len(got) != len(ns) {
			return fmt.Errorf("stored tree nodes at level %d for events %d–%d are missing", level, from, to-1)
		}
		for i, n := range ns {
			if !bytes.Equal(got[i], n.Hash) {
				first := n.Index << level
				return fmt.Errorf("stored tree node %d/%d (events %d–%d) does not match the events", level, n.Index, first, first+(1<<level)-1)
			}
		}
	}
	return nil
}

// Rebuild drops every projection and rebuilds it from the journal through the rules, in one transaction.
func (s *Store) Rebuild(ctx context.Context, progress Progress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.d.Begin(ctx, true)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	rules := s.rules.Fresh()
	if err := replayInto(ctx, tx, rules, progress); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.rules = rules
	return nil
}

// replayInto empties the projections and replays the whole journal into them through rules, in tx.
func replayInto(ctx context.Context, tx Tx, rules Rules, progress Progress) error {
	for _, t := range ProjectionTables {
		if _, err := tx.Exec(ctx, "DELETE FROM "+t.Name); err != nil {
			return err
		}
	}
	proj := newProjector(tx, rules)
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM journal_events").Scan(&total); err != nil {
		return err
	}
	return eachEvent(ctx, tx, func(e *journal.Event) error {
		if err := proj.apply(ctx, e, nil); err != nil {
			return fmt.Errorf("event %d: %w", e.Seq, err)
		}
		return nil
	}, func(done int64) error {
		if err := proj.flush(ctx); err != nil {
			return err
		}
		if progress != nil {
			progress(done, total)
		}
		return nil
	})
}

// eachEvent reads the whole journal in order, verifyChunk events at a time (bounded memory), calling fn for each
// event and, when not nil, chunk after each chunk with how many events have been read.
func eachEvent(ctx context.Context, tx Tx, fn func(e *journal.Event) error, chunk func(done int64) error) error {
	var seq int64
	for {
		batch, err := readEvents(ctx, tx, seq, verifyChunk)
		if err != nil {
			return err
		}
		for i := range batch {
			if err := fn(&batch[i]); err != nil {
				return err
			}
		}
		seq += int64(len(batch))
		if chunk != nil {
			if err := chunk(seq); err != nil {
				return err
			}
		}
		if len(batch) < verifyChunk {
			return nil
		}
	}
}

// readEvents reads up to n events from seq on, decoded.
func readEvents(ctx context.Context, tx Tx, seq int64, n int) ([]journal.Event, error) {
	rows, err := tx.Query(ctx, "SELECT body FROM journal_events WHERE seq >= $1 ORDER BY seq LIMIT $2", seq, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []journal.Event
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		e, err := journal.Decode(body)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// loadRules feeds the adopted rule sets to the store's rules, in journal order.
func (s *Store) loadRules(ctx context.Context) error {
	tx, err := s.d.Begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT body FROM rule_sets ORDER BY seq")
	if err != nil {
		return err
	}
	defer rows.Close()
	rules := s.rules.Fresh()
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return err
		}
		if _, _, _, err := rules.Adopt([]byte(body)); err != nil {
			return fmt.Errorf("adopted rule set no longer parses: %w", err)
		}
	}
	s.rules = rules
	return rows.Err()
}

// crossCheck recomputes every person's contribution figures with the rules engine's person-level derivation —
// a second path beside the projector's — and compares them with the stored projection, person by person, so
// memory holds one person at a time.
func crossCheck(ctx context.Context, tx Tx, d Driver, book *rules.Book) error {
	contrib, _ := d.Qualify("contributions")
	employers, _ := d.Qualify("employers")
	rows, err := tx.Query(ctx, `SELECT c.person, c.seq, c.region, c.type, c.period, c.status, c.wage, c.late_days, COALESCE(e.industry_class, 0),
		c.base, c.employer_amount, c.individual_amount, c.account_credit, c.late_fee
		FROM `+contrib+` c LEFT JOIN `+employers+` e ON e.credit_code = c.employer
		ORDER BY c.person, c.seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	type stored struct {
		seq                                         int64
		base, employer, individual, credit, lateFee int64
	}
	der := rules.NewDeriver(book)
	var out rules.PersonDerived
	var in rules.PersonFacts
	var want []stored
	person, region := "", ""
	check := func() error {
		if len(want) == 0 {
			return nil
		}
		if err := der.Derive(region, in, 0, &out); err != nil {
			return fmt.Errorf("person %s: the rules refuse the recorded contributions: %v", person, err)
		}
		for i, w := range want {
			g := out.Contributions[i]
			if int64(g.Base) != w.base || int64(g.Employer) != w.employer || int64(g.Individual) != w.individual ||
				int64(g.Credit) != w.credit || int64(g.LateFee) != w.lateFee {
				return fmt.Errorf("projection contributions: row seq=%d: stored figures (base %s, employer %s, individual %s, credit %s, late fee %s) differ from the rules' (%s, %s, %s, %s, %s)",
					w.seq, record.Fen(w.base), record.Fen(w.employer), record.Fen(w.individual), record.Fen(w.credit), record.Fen(w.lateFee),
					g.Base, g.Employer, g.Individual, g.Credit, g.LateFee)
			}
		}
		return nil
	}
	for rows.Next() {
		var p, reg, typ, status string
		var seq, period, wage, lateDays, class int64
		var w stored
		if err := rows.Scan(&p, &seq, &reg, &typ, &period, &status, &wage, &lateDays, &class, &w.base, &w.employer, &w.individual, &w.credit, &w.lateFee); err != nil {
			return err
		}
		if p != person {
			if err := check(); err != nil {
				return err
			}
			person, region = p, reg
			in.Contributions, want = in.Contributions[:0], want[:0]
		}
		w.seq = seq
		want = append(want, w)
		in.Contributions = append(in.Contributions, rules.Contribution{Type: typ, Period: record.Period(period), Wage: record.Fen(wage),
			Region: reg, Status: status, IndustryClass: int(class), LateDays: int(lateDays)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return check()
}
