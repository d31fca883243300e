package store

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/rules"
)

// What the store knows of transfers between regions (R10): the projections of the transfer events, the rule
// that a record transferred out takes no new contributions, and the reads a transfer package is built from
// inside the approving transaction.

var (
	colsRecordTransfers   = []string{"seq", "person", "direction", "other_region", "package", "period", "pooled_fund"}
	colsTransferredMonths = []string{"seq", "person", "type", "period", "base", "index_wage"}
)

// RecordTransferView is a transfer of the person's record out to or in from another region.
type RecordTransferView struct {
	Seq         int64         `json:"seq"`
	Direction   string        `json:"direction"` // "out" or "in"
	OtherRegion string        `json:"other_region"`
	Package     string        `json:"package"`
	Period      record.Period `json:"period"`
	PooledFund  record.Fen    `json:"pooled_fund"`
}

// TransferredMonthView is a contribution month brought by a transfer in.
type TransferredMonthView struct {
	Seq       int64         `json:"seq"`
	Type      string        `json:"type"`
	Period    record.Period `json:"period"`
	Base      record.Fen    `json:"base"`
	IndexWage record.Fen    `json:"index_wage"`
}

// applyTransfer projects a transfer.out or transfer.in event.
func (p *projector) applyTransfer(ctx context.Context, e *journal.Event, fact record.Fact) error {
	switch e.Type {
	case record.TypeTransferredOut:
		f, err := decode[record.TransferredOut](e, fact)
		if err != nil {
			return err
		}
		if err := p.mustChange(ctx, e, "UPDATE persons SET status = $1, updated_seq = $2 WHERE person = $3", record.PersonTransferredOut, e.Seq, e.Person); err != nil {
			return err
		}
		return p.insert(ctx, "record_transfers", colsRecordTransfers, e.Seq, e.Person, "out", f.Destination, f.Package, int(f.Period), f.PooledFund)
	case record.TypeTransferredIn:
		f, err := decode[record.TransferredIn](e, fact)
		if err != nil {
			return err
		}
		if err := p.insert(ctx, "record_transfers", colsRecordTransfers, e.Seq, e.Person, "in", f.Origin, f.Package, int(f.Period), f.PooledFund); err != nil {
			return err
		}
		for _, m := range f.Months {
			if err := p.insert(ctx, "transferred_months", colsTransferredMonths, e.Seq, e.Person, m.Type, int(m.Period), m.Base, m.IndexWage); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("event %d: %s is not a transfer event", e.Seq, e.Type)
}

// refuseTransferredOut refuses contributions for persons whose record has been transferred out (R10): the new
// region's agency records them. events are the events about to be appended, one per fact.
func refuseTransferredOut(ctx context.Context, tx Tx, events []journal.Event) error {
	persons := map[string]bool{}
	for i := range events {
		if events[i].Type == record.TypeContributionPosted && events[i].Person != "" {
			persons[events[i].Person] = false
		}
	}
	if len(persons) == 0 {
		return nil
	}
	// Most agencies have few such persons, often none: the partial index answers that at once. (The status is
	// written as a literal so that the planner can use the partial index.)
	var one int
	err := tx.QueryRow(ctx, "SELECT 1 FROM persons WHERE status = 'transferred_out' LIMIT 1").Scan(&one)
	if errors.Is(err, ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(persons))
	for p := range persons {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for len(keys) > 0 {
		n := min(500, len(keys))
		args := make([]any, n)
		q := "SELECT person FROM persons WHERE status = 'transferred_out' AND person IN ("
		for i := 0; i < n; i++ {
			if i > 0 {
				q += ","
			}
			q += fmt.Sprintf("$%d", i+1)
			args[i] = keys[i]
		}
		rows, err := tx.Query(ctx, q+")", args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return err
			}
			persons[p] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	var errs record.Errors
	why := map[string]string{}
	for i := range events {
		e := &events[i]
		if e.Type != record.TypeContributionPosted || !persons[e.Person] {
			continue
		}
		msg, ok := why[e.Person]
		if !ok {
			var region, pkg string
			var period int64
			err := tx.QueryRow(ctx, "SELECT other_region, package, period FROM record_transfers WHERE person = $1 AND direction = 'out' ORDER BY seq DESC LIMIT 1", e.Person).
				Scan(&region, &pkg, &period)
			if err != nil && !errors.Is(err, ErrNoRows) {
				return err
			}
			msg = fmt.Sprintf("the person's record was transferred out to region %s in %d (package %s); their contributions are recorded by that region's agency", region, period, pkg)
			why[e.Person] = msg
		}
		errs.Append(fmt.Sprintf("facts[%d].id_number", i), record.Invalid("", "person_transferred_out", "%s", msg))
	}
	return errs.Err()
}

// transferQueries read the person's record transfers and transferred months into v.
func transferQueries(v *PersonView) []BatchQuery {
	return []BatchQuery{
		{SQL: "SELECT seq, direction, other_region, package, period, pooled_fund FROM record_transfers WHERE person = $1 ORDER BY seq", Args: []any{v.Person},
			Row: func(r Rows) error {
				var x RecordTransferView
				var period int64
				err := r.Scan(&x.Seq, &x.Direction, &x.OtherRegion, &x.Package, &period, &x.PooledFund)
				x.Period = record.Period(period)
				v.RecordTransfers = append(v.RecordTransfers, x)
				return err
			}},
		{SQL: "SELECT seq, type, period, base, index_wage FROM transferred_months WHERE person = $1 ORDER BY type, period, seq", Args: []any{v.Person},
			Row: func(r Rows) error {
				var x TransferredMonthView
				var period int64
				err := r.Scan(&x.Seq, &x.Type, &period, &x.Base, &x.IndexWage)
				x.Period = record.Period(period)
				v.TransferredMonths = append(v.TransferredMonths, x)
				return err
			}},
	}
}

// transferredFacts are the person's transferred months as the rules take them.
func transferredFacts(v *PersonView) []rules.TransferredMonth {
	out := make([]rules.TransferredMonth, len(v.TransferredMonths))
	for i, m := range v.TransferredMonths {
		out[i] = rules.TransferredMonth{Type: m.Type, Period: m.Period, Base: m.Base, IndexWage: m.IndexWage}
	}
	return out
}

// PersonEventSeqs returns, in journal order, the events that make up a person's record as it stands, read in
// tx: the registration and the latest change of it, every enrolment and its end, every contribution, subsidy,
// eligibility, benefit, deemed period, account transfer, other record, record transfer and maintenance log
// entry that has not been superseded; and, apart, every adopted rule set (the rules the figures come from).
func PersonEventSeqs(ctx context.Context, tx Tx, person string) (personSeqs, ruleSeqs []int64, err error) {
	seen := map[int64]bool{}
	add := func(q string, args ...any) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s int64
			if err := rows.Scan(&s); err != nil {
				return err
			}
			if s >= 0 && !seen[s] {
				seen[s] = true
				personSeqs = append(personSeqs, s)
			}
		}
		return rows.Err()
	}
	queries := []string{
		"SELECT seq FROM persons WHERE person = $1",
		"SELECT updated_seq FROM persons WHERE person = $1",
		"SELECT seq FROM enrolments WHERE person = $1",
		"SELECT stop_seq FROM enrolments WHERE person = $1 AND end_date <> ''",
		"SELECT seq FROM contributions WHERE person = $1",
		"SELECT seq FROM subsidies WHERE person = $1",
		"SELECT seq FROM eligibilities WHERE person = $1",
		"SELECT seq FROM benefit_payments WHERE person = $1",
		"SELECT seq FROM deemed_periods WHERE person = $1",
		"SELECT seq FROM account_transfers WHERE person = $1",
		"SELECT seq FROM other_records WHERE person = $1",
		"SELECT seq FROM record_transfers WHERE person = $1",
		"SELECT DISTINCT seq FROM transferred_months WHERE person = $1",
		"SELECT seq FROM maintenance_log WHERE person = $1",
	}
	for _, q := range queries {
		if err := add(q, person); err != nil {
			return nil, nil, err
		}
	}
	if len(personSeqs) == 0 {
		return nil, nil, record.Errorf(record.ENotFound, "person %s is not registered", person)
	}
	sort.Slice(personSeqs, func(i, j int) bool { return personSeqs[i] < personSeqs[j] })
	rows, err := tx.Query(ctx, "SELECT seq FROM rule_sets ORDER BY seq")
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			return nil, nil, err
		}
		ruleSeqs = append(ruleSeqs, s)
	}
	return personSeqs, ruleSeqs, rows.Err()
}

// EventBodiesIn reads the canonical encodings of the events at seqs, in tx, in the order of seqs.
func EventBodiesIn(ctx context.Context, tx Tx, seqs []int64) ([][]byte, error) {
	at := make(map[int64]int, len(seqs))
	for i, s := range seqs {
		at[s] = i
	}
	out := make([][]byte, len(seqs))
	for lo := 0; lo < len(seqs); lo += 500 {
		hi := min(lo+500, len(seqs))
		args := make([]any, 0, hi-lo)
		q := "SELECT seq, body FROM journal_events WHERE seq IN ("
		for i := lo; i < hi; i++ {
			if i > lo {
				q += ","
			}
			args = append(args, seqs[i])
			q += fmt.Sprintf("$%d", len(args))
		}
		rows, err := tx.Query(ctx, q+")", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s int64
			var b []byte
			if err := rows.Scan(&s, &b); err != nil {
				rows.Close()
				return nil, err
			}
			if i, ok := at[s]; ok {
				out[i] = b
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	for i, b := range out {
		if b == nil {
			return nil, fmt.Errorf("event %d is not in the journal", seqs[i])
		}
	}
	return out, nil
}

// InclusionProofsIn returns, read in tx, the proof that each event of seqs is in the tree of the given size
// (the tree of a signed checkpoint). The node hashes the proofs share — the upper levels, mostly — are computed
// once.
func InclusionProofsIn(ctx context.Context, tx Tx, seqs []int64, size uint64) ([][][]byte, error) {
	r := hashReader{tx}
	memo := map[compact.NodeID][]byte{}
	out := make([][][]byte, len(seqs))
	for i, seq := range seqs {
		nodes, err := proof.Inclusion(uint64(seq), size)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", seq, err)
		}
		hs := make([][]byte, len(nodes.IDs))
		for j, id := range nodes.IDs {
			h, ok := memo[id]
			if !ok {
				if h, err = journal.NodeHash(ctx, r, id); err != nil {
					return nil, fmt.Errorf("event %d: %w", seq, err)
				}
				memo[id] = h
			}
			hs[j] = h
		}
		p, err := nodes.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", seq, err)
		}
		out[i] = p
	}
	return out, nil
}
