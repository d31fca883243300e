package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/rules"
	"sirec/internal/store"
)

func init() {
	review.RegisterProcedure(review.KindTransferOut, review.Procedure{
		Facts:     outFacts,
		Approved:  outApproved,
		Rejected:  outRejected,
		Withdrawn: outWithdrawn,
	})
	review.RegisterProcedure(review.KindTransferIn, review.Procedure{
		Facts:    inFactsAtApproval,
		Approved: inApproved,
		Rejected: inRejected,
	})
}

// Request is a request to transfer a person's record out to another region.
type Request struct {
	IDNumber    string            `json:"id_number"`
	Destination string            `json:"destination"`
	Reason      string            `json:"reason"`
	Materials   []review.Material `json:"materials,omitempty"`
}

// openOut are the statuses of an outgoing transfer still under way.
var openOut = []string{StatusRequested, StatusApproved, StatusSent}

// Request makes the review draft of a transfer out (kind transfer_out) with the amounts the rules give today;
// they are computed again at the final approval, which records the transfer. The person must be registered and
// active, the destination on the trust list, and no other transfer of the person under way.
func (s *Service) Request(ctx context.Context, actor review.Actor, req Request) (Transfer, error) {
	now := s.now()
	var errs record.Errors
	errs.Append("", record.ValidateCitizenID("id_number", req.IDNumber, now))
	errs.Append("", record.ValidateRegion("destination", req.Destination))
	if strings.TrimSpace(req.Reason) == "" || len([]rune(req.Reason)) > 500 {
		errs.Append("reason", record.Invalid("", "transfer_reason", "say why the record is transferred (e.g. the new employer and its region), at most 500 characters"))
	}
	if err := errs.Err(); err != nil {
		return Transfer{}, err
	}
	if req.Destination == s.st.Region() {
		return Transfer{}, record.Invalid("destination", "transfer_elsewhere", "region %s is this agency's own", req.Destination)
	}
	if _, err := s.TrustEntry(ctx, req.Destination); err != nil {
		return Transfer{}, record.Invalid("destination", "destination_trusted", "region %s is not on the trust list; a system administrator adds it first (sirec agency trust add)", req.Destination)
	}
	person, err := s.st.FindPerson(ctx, req.IDNumber)
	if err != nil {
		return Transfer{}, record.WithField("id_number", err)
	}
	view, err := s.st.PersonRecord(ctx, person)
	if err != nil {
		return Transfer{}, err
	}
	if view.Status != "active" {
		return Transfer{}, record.Invalid("id_number", "person_active", "the person's record is %s; only an active record is transferred out", view.Status)
	}
	period := monthOf(now, s.cfg.Location)
	fig, err := compute(s.st.Book(), factsFromView(view, s.st.Region(), period))
	if err != nil {
		return Transfer{}, err
	}
	facts, err := draftFacts([]record.Fact{
		&record.AccountTransferred{PersonRef: record.PersonRef{IDNumber: req.IDNumber}, Amount: int64(fig.account), Direction: "out",
			OtherRegion: req.Destination, Period: period},
		&record.TransferredOut{PersonRef: record.PersonRef{IDNumber: req.IDNumber}, Destination: req.Destination, Package: "000000-T000000",
			Period: period, PooledFund: int64(fig.amounts.PooledFund), Reason: req.Reason},
	})
	if err != nil {
		return Transfer{}, err
	}
	sum, _ := json.Marshal(summary{Months: fig.months})
	id, err := s.nextID(ctx)
	if err != nil {
		return Transfer{}, err
	}
	pkgID := s.st.Region() + "-" + Number(id)
	facts[1].Data, _ = json.Marshal(&record.TransferredOut{Destination: req.Destination, Package: pkgID, Period: period,
		PooledFund: int64(fig.amounts.PooledFund), Reason: req.Reason})
	sub := review.Submission{Kind: review.KindTransferOut, Facts: facts, Materials: req.Materials,
		Summary: fmt.Sprintf("转出至 %s：%s %s", req.Destination, maskName(view.Name), view.IDMasked)}
	_, err = s.rv.SubmitByProcedure(ctx, actor, sub, func(ctx context.Context, tx store.Tx, draft int64) error {
		var open int
		if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT COUNT(*) FROM transfers WHERE person = $1 AND direction = 'out' AND status IN ('%s')", strings.Join(openOut, "','")),
			person).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return record.Errorf(record.EConflict, "a transfer of this person is already under way")
		}
		var taken int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM transfers WHERE id = $1", id).Scan(&taken); err != nil {
			return err
		}
		if taken > 0 {
			return record.Errorf(record.EConflict, "another transfer took number %s meanwhile; submit again", Number(id))
		}
		if _, err := tx.Exec(ctx, `INSERT INTO transfers (id, direction, package_id, person, name, id_masked, other_region, status, reason, detail, draft_id,
			period, account, pooled_fund, summary, overlap, package, package_sha256, checkpoint_size, first_seq, event_count, created_at, created_by, updated_at)
			VALUES ($1, 'out', $2, $3, $4, $5, $6, $7, $8, '', $9, $10, $11, $12, $13, '[]', $14, '', 0, 0, 0, $15, $16, $15)`,
			id, pkgID, person, view.Name, view.IDMasked, req.Destination, StatusRequested, req.Reason, draft, int(period),
			int64(fig.account), int64(fig.amounts.PooledFund), string(sum), []byte{}, now.UnixMilli(), actor.User); err != nil {
			return err
		}
		return addHistory(ctx, tx, id, now, StatusRequested, actor.User, "draft "+review.DraftID(draft))
	})
	if err != nil {
		return Transfer{}, err
	}
	return s.Get(ctx, id)
}

// nextID returns the number the next transfer will probably get; the insert checks it is still free.
func (s *Service) nextID(ctx context.Context) (int64, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	var id int64
	err = tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM transfers").Scan(&id)
	return id, err
}

// maskName masks a name for summaries: the surname stays (张三丰 → 张**).
func maskName(name string) string {
	r := []rune(name)
	if len(r) <= 1 {
		return name
	}
	return string(r[0]) + strings.Repeat("*", len(r)-1)
}

// draftFacts writes facts as a draft holds them.
func draftFacts(facts []record.Fact) ([]review.DraftFact, error) {
	out := make([]review.DraftFact, len(facts))
	for i, f := range facts {
		data, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		out[i] = review.DraftFact{Type: f.EventType(), Data: data}
		if pf, ok := f.(record.PersonFact); ok {
			out[i].IDNumber = pf.Ref().IDNumber
		}
	}
	return out, nil
}

// factsFromView takes a person's facts from the projections, with this transfer's account transfer out in
// period added at the end.
func factsFromView(v *store.PersonView, region string, period record.Period) *factsIn {
	f := &factsIn{region: region, period: period}
	for _, c := range v.Contributions {
		f.contributions = append(f.contributions, contributionIn{seq: c.Seq, employer: c.Employer,
			c: rules.Contribution{Type: c.Type, Period: c.Period, Wage: c.Wage, Region: region, Status: c.Status, LateDays: c.LateDays}})
	}
	for _, d := range v.Deemed {
		f.deemed = append(f.deemed, rules.Span{Type: record.Pension, From: d.From, To: d.To})
	}
	for _, t := range v.Transfers {
		f.transfers = append(f.transfers, rules.Transfer{Period: t.Period, Amount: t.Amount, Out: t.Direction == "out"})
	}
	f.ownOut = len(f.transfers)
	f.transfers = append(f.transfers, rules.Transfer{Period: period, Out: true})
	for _, m := range v.TransferredMonths {
		f.transferred = append(f.transferred, rules.TransferredMonth{Type: m.Type, Period: m.Period, Base: m.Base, IndexWage: m.IndexWage})
	}
	return f
}

// outgoing returns the outgoing transfer of a draft, read in tx.
func outgoing(ctx context.Context, tx store.Tx, d review.Draft) (Transfer, error) {
	t, err := getIn(ctx, tx, "draft_id = $1", d.ID)
	if err != nil || t.Direction != Out {
		return t, fmt.Errorf("draft %s has no transfer out", d.Number)
	}
	return t, nil
}

// outFacts builds, at the final approval, what a transfer out records: the account transfer out of the balance
// at the end of this month and the transfer.out event, with the pooled-fund amount — by the rules in force now.
func outFacts(ctx context.Context, st *store.Store, d review.Draft, now time.Time) ([]record.Fact, error) {
	svc := serviceFor(st)
	tx, err := st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	t, err := outgoing(ctx, tx, d)
	tx.Rollback(ctx)
	if err != nil {
		return nil, err
	}
	if len(d.Facts) == 0 || d.Facts[0].IDNumber == "" {
		return nil, fmt.Errorf("draft %s names no person", d.Number)
	}
	id := d.Facts[0].IDNumber
	view, err := st.PersonRecord(ctx, t.Person)
	if err != nil {
		return nil, err
	}
	if view.Status != "active" {
		return nil, record.Invalid("id_number", "person_active", "the person's record is %s; only an active record is transferred out", view.Status)
	}
	period := monthOf(now, svc.cfg.Location)
	fig, err := compute(st.Book(), factsFromView(view, st.Region(), period))
	if err != nil {
		return nil, err
	}
	return []record.Fact{
		&record.AccountTransferred{PersonRef: record.PersonRef{IDNumber: id}, Amount: int64(fig.account), Direction: "out", OtherRegion: t.OtherRegion, Period: period},
		&record.TransferredOut{PersonRef: record.PersonRef{IDNumber: id}, Destination: t.OtherRegion, Package: t.PackageID, Period: period,
			PooledFund: int64(fig.amounts.PooledFund), Reason: t.Reason},
	}, nil
}

// outApproved builds and signs the package in the approving transaction, against the checkpoint of this very
// append, and queues it for delivery: the package exists exactly when the transfer is recorded.
func outApproved(ctx context.Context, st *store.Store, tx store.Tx, d review.Draft, rc store.Receipt, approver string, now time.Time) error {
	t, err := outgoing(ctx, tx, d)
	if err != nil {
		return err
	}
	appended := make([]int64, rc.Count)
	for i := range appended {
		appended[i] = rc.First + int64(i)
	}
	bodies, err := store.EventBodiesIn(ctx, tx, appended)
	if err != nil {
		return err
	}
	var out OutEvents
	var acc record.AccountTransferred
	var tr record.TransferredOut
	var person string
	for _, b := range bodies {
		e, err := journal.Decode(b)
		if err != nil {
			return err
		}
		switch e.Type {
		case record.TypeAccountTransferred:
			out.Account = e.Seq
			err = json.Unmarshal(e.Data, &acc)
		case record.TypeTransferredOut:
			out.Transfer, person = e.Seq, e.Person
			err = json.Unmarshal(e.Data, &tr)
		}
		if err != nil {
			return err
		}
	}
	personSeqs, ruleSeqs, err := store.PersonEventSeqs(ctx, tx, person)
	if err != nil {
		return err
	}
	seqs := append(append([]int64(nil), personSeqs...), ruleSeqs...)
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	bodies, err = store.EventBodiesIn(ctx, tx, seqs)
	if err != nil {
		return err
	}
	proofs, err := store.InclusionProofsIn(ctx, tx, seqs, rc.Checkpoint.Size)
	if err != nil {
		return err
	}
	events := make([]journal.Event, len(seqs))
	proven := make([]ProvenEvent, len(seqs))
	for i, b := range bodies {
		if events[i], err = journal.Decode(b); err != nil {
			return err
		}
		proven[i] = ProvenEvent{Body: string(b), Seq: seqs[i], Proof: make([]string, len(proofs[i]))}
		for j, h := range proofs[i] {
			proven[i].Proof[j] = base64.StdEncoding.EncodeToString(h)
		}
	}
	rec, err := declare(st.Region(), person, tr.Period, out, ruleSeqs, events)
	if err != nil {
		return fmt.Errorf("transfer %s: the record does not derive: %w", t.Number, err)
	}
	if int64(rec.Amounts.Account) != acc.Amount || int64(rec.Amounts.PooledFund) != tr.PooledFund {
		return record.Errorf(record.EConflict, "the person's record changed while the transfer was being approved (account %s now, %s computed; pooled fund %s now, %s computed); approve again",
			rec.Amounts.Account, record.Fen(acc.Amount), rec.Amounts.PooledFund, record.Fen(tr.PooledFund))
	}
	// The projections must say what the journal says: the figures at both ends are compared, so a difference
	// here is a fault to find (sirec verify), not a package to send.
	view, err := st.PersonRecordIn(ctx, tx, person)
	if err != nil {
		return err
	}
	if err := sameAsView(rec, view); err != nil {
		return fmt.Errorf("transfer %s: %w; run sirec verify", t.Number, err)
	}
	var name, url string
	err = tx.QueryRow(ctx, "SELECT name, url FROM agency_identity WHERE id = 1").Scan(&name, &url)
	if err != nil && !errors.Is(err, store.ErrNoRows) {
		return err
	}
	pkg := &Package{Checkpoint: string(rc.Signed), Created: now.UTC().Format(time.RFC3339Nano), Destination: t.OtherRegion, Events: proven,
		Format: Format, ID: t.PackageID, IDNumber: d.Facts[0].IDNumber, Origin: Agency{Name: name, Region: st.Region(), URL: url},
		Out: out, Period: tr.Period, Reason: tr.Reason, Record: *rec, RuleEvents: ruleSeqs, Rules: RulesVersion()}
	if pkg.RuleEvents == nil {
		pkg.RuleEvents = []int64{}
	}
	signed, err := pkg.Sign(st.Keys().Signer)
	if err != nil {
		return err
	}
	sum, _ := json.Marshal(summary{Months: rec.Months})
	if _, err := tx.Exec(ctx, `UPDATE transfers SET period = $1, account = $2, pooled_fund = $3, summary = $4, package = $5, package_sha256 = $6,
		checkpoint_size = $7, first_seq = $8, event_count = $9 WHERE id = $10`,
		int(tr.Period), acc.Amount, tr.PooledFund, string(sum), st.Keys().Seal(signed, packageLabel), sha256Hex(signed),
		int64(rc.Checkpoint.Size), rc.First, rc.Count, t.ID); err != nil {
		return err
	}
	detail := fmt.Sprintf("recorded as events %d–%d; package %s signed (%d events proven against checkpoint %d)", rc.First, rc.First+rc.Count-1, t.PackageID, len(proven), rc.Checkpoint.Size)
	if err := addHistory(ctx, tx, t.ID, now, StatusApproved, approver, detail); err != nil {
		return err
	}
	if err := queue(ctx, tx, t.ID, "package", t.OtherRegion, nil, now); err != nil {
		return err
	}
	kick(st)
	return nil
}

// sameAsView compares the contribution months and the account years of a record made from the journal with
// those of the projections.
func sameAsView(rec *Record, v *store.PersonView) error {
	var months []Months
	for _, m := range v.Derived.ContributionMonths {
		months = append(months, Months{Deemed: m.Deemed, Paid: m.Paid, Total: m.Total, Type: m.Type, Years: m.Years})
	}
	var years []AccountYear
	for _, y := range v.Derived.AccountYears {
		years = append(years, AccountYear{Closing: y.Closing, Credits: y.Credits, Interest: y.Interest, Opening: y.Opening,
			Provisional: y.Provisional, Rate: y.Rate.String(), TransfersIn: y.TransfersIn, TransfersOut: y.TransfersOut, Year: y.Year})
	}
	a, _ := json.Marshal([]any{rec.Months, rec.Account.Years})
	if months == nil {
		months = []Months{}
	}
	if years == nil {
		years = []AccountYear{}
	}
	b, _ := json.Marshal([]any{months, years})
	if !bytes.Equal(a, b) {
		return fmt.Errorf("the journal gives the record %s but the projections %s", clip(a), clip(b))
	}
	return nil
}

func outRejected(ctx context.Context, st *store.Store, tx store.Tx, d review.Draft, actor, reason string, now time.Time) (bool, error) {
	t, err := outgoing(ctx, tx, d)
	if err != nil {
		return false, err
	}
	return false, addHistory(ctx, tx, t.ID, now, StatusRequested, actor, "draft returned to its maker: "+reason)
}

func outWithdrawn(ctx context.Context, st *store.Store, tx store.Tx, d review.Draft, actor, reason string, now time.Time) error {
	t, err := outgoing(ctx, tx, d)
	if err != nil {
		return err
	}
	return addHistory(ctx, tx, t.ID, now, StatusWithdrawn, actor, reason)
}

// services are the transfer services made with New, by store (the first for each), for the review procedures
// to find their settings.
var (
	servicesMu sync.Mutex
	services   = map[*store.Store]*Service{}
)

// serviceFor returns a transfer service of st: the one made for it with New, or one with the default settings.
func serviceFor(st *store.Store) *Service {
	servicesMu.Lock()
	defer servicesMu.Unlock()
	if s, ok := services[st]; ok {
		return s
	}
	return newService(st, nil, Config{})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
