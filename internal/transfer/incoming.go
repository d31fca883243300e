package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// AckFormat names the format of acknowledgements and refusals.
const AckFormat = "sirec-transfer-ack/1"

// Ack is the destination's answer to a package, signed by the destination as a note: accepted (recorded as the
// events First to First+Count−1 of its journal, under its signed Checkpoint) or refused, with the reason.
type Ack struct {
	At          string `json:"at"`
	Checkpoint  string `json:"checkpoint,omitempty"`
	Count       int64  `json:"count,omitempty"`
	Destination string `json:"destination"`
	First       int64  `json:"first,omitempty"`
	Format      string `json:"format"`
	Package     string `json:"package"`
	Reason      string `json:"reason,omitempty"`
	Status      string `json:"status"` // accepted or refused
}

// Encode returns the acknowledgement's canonical encoding.
func (a *Ack) Encode() ([]byte, error) { return json.Marshal(a) }

// agencyActor is the maker of a draft made from a package: the origin agency, not a user (user names have no
// colon, so it is never one).
func agencyActor(region string) review.Actor {
	return review.Actor{User: "agency:" + region, Posts: []string{review.MakerPost}}
}

// noteText returns the text of a signed note without checking its signature (a package kept sealed since it
// was checked on arrival), without the final newline.
func noteText(signed []byte) string {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return ""
	}
	return string(signed[:i])
}

// formatOf returns the "format" and "id"/"package" of a signed message, best effort, for routing and logs.
func formatOf(signed []byte) (format, id string) {
	var head struct {
		Format  string `json:"format"`
		ID      string `json:"id"`
		Package string `json:"package"`
	}
	json.Unmarshal([]byte(noteText(signed)), &head)
	if head.ID == "" {
		head.ID = head.Package
	}
	if len(head.ID) > 40 {
		head.ID = head.ID[:40]
	}
	return head.Format, head.ID
}

// Import takes a signed package or acknowledgement carried as a file (or posted by staff) and handles it as if
// it had been delivered over HTTP.
func (s *Service) Import(ctx context.Context, signed []byte, source, actor string) (Transfer, bool, error) {
	if f, _ := formatOf(signed); f == AckFormat {
		t, err := s.ReceiveAck(ctx, signed, source, actor)
		return t, false, err
	}
	return s.Receive(ctx, signed, source, actor)
}

// Receive checks a package addressed to this agency and, when every check holds, keeps it and makes it a review
// draft (kind transfer_in). A package that fails any check is refused with the reason and logged; nothing else is
// kept of it. A package that arrives again is accepted once: the second arrival reports the transfer made by the
// first (duplicate true).
func (s *Service) Receive(ctx context.Context, signed []byte, source, actor string) (Transfer, bool, error) {
	_, guess := formatOf(signed)
	fail := func(err error) (Transfer, bool, error) {
		if c := record.ErrorCode(err); c == record.EInvalid || c == record.EConflict {
			s.logRefusal(ctx, Refusal{Source: source, PackageID: guess, SHA256: sha256Hex(signed), Reason: err.Error(), Actor: actor})
		}
		return Transfer{}, false, err
	}
	if len(signed) > MaxPackage {
		return fail(refuse("the package is larger than %d MiB", MaxPackage>>20))
	}
	keys, err := s.verifiers(ctx)
	if err != nil {
		return Transfer{}, false, err
	}
	o, err := openPackage(signed, keys, s.st.Region())
	if err != nil {
		return fail(err)
	}
	if t, dup, err := s.duplicate(ctx, o); dup || err != nil {
		if err != nil {
			return fail(err)
		}
		return t, true, nil
	}
	now := s.now()
	plan, err := s.plan(ctx, o.pkg, now)
	if err != nil {
		return fail(err)
	}
	facts, err := draftFacts(plan.facts)
	if err != nil {
		return Transfer{}, false, err
	}
	p := o.pkg
	sum, _ := json.Marshal(summary{Months: p.Record.Months})
	overlap, _ := json.Marshal(plan.overlap)
	id, err := s.nextID(ctx)
	if err != nil {
		return Transfer{}, false, err
	}
	idMasked := record.MaskID(p.IDNumber)
	line := fmt.Sprintf("转入自 %s（%s）：%s %s", p.Origin.Region, p.ID, maskName(p.Record.Person.Name), idMasked)
	if len(plan.overlap) > 0 {
		line += fmt.Sprintf("；重叠月份 %d 个", len(plan.overlap))
	}
	_, err = s.rv.SubmitByProcedure(ctx, agencyActor(p.Origin.Region), review.Submission{Kind: review.KindTransferIn, Facts: facts, Summary: line},
		func(ctx context.Context, tx store.Tx, draft int64) error {
			var taken int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM transfers WHERE id = $1 OR package_id = $2", id, p.ID).Scan(&taken); err != nil {
				return err
			}
			if taken > 0 {
				return errRace
			}
			if _, err := tx.Exec(ctx, `INSERT INTO transfers (id, direction, package_id, person, name, id_masked, other_region, status, reason, detail, draft_id,
				period, account, pooled_fund, summary, overlap, package, package_sha256, checkpoint_size, first_seq, event_count, created_at, created_by, updated_at)
				VALUES ($1, 'in', $2, $3, $4, $5, $6, $7, $8, '', $9, $10, $11, $12, $13, $14, $15, $16, $17, 0, 0, $18, $19, $18)`,
				id, p.ID, plan.person, p.Record.Person.Name, idMasked, p.Origin.Region, StatusReceived, p.Reason, draft, int(p.Period),
				int64(p.Record.Amounts.Account), int64(p.Record.Amounts.PooledFund), string(sum), string(overlap),
				s.st.Keys().Seal(signed, packageLabel), o.sha256, int64(checkpointSize(p)), now.UnixMilli(), actor); err != nil {
				return err
			}
			detail := fmt.Sprintf("from %s; signature, checkpoint, %d event proofs and every figure checked; draft %s", source, len(p.Events), review.DraftID(draft))
			if len(plan.overlap) > 0 {
				detail += fmt.Sprintf("; months already held here: %s", strings.Join(plan.overlap, ", "))
			}
			return addHistory(ctx, tx, id, now, StatusReceived, actor, detail)
		})
	if err == errRace {
		if t, dup, err := s.duplicate(ctx, o); dup || err != nil {
			if err != nil {
				return fail(err)
			}
			return t, true, nil
		}
		return Transfer{}, false, record.Errorf(record.EConflict, "another transfer took number %s meanwhile; deliver again", Number(id))
	}
	if err != nil {
		return Transfer{}, false, err
	}
	t, err := s.Get(ctx, id)
	return t, false, err
}

var errRace = record.Errorf(record.EConflict, "the package or the transfer number was taken meanwhile")

// duplicate reports whether the package was received before: the same bytes are a duplicate delivery; other
// bytes under the same id are refused.
func (s *Service) duplicate(ctx context.Context, o *opened) (Transfer, bool, error) {
	t, err := s.ByPackage(ctx, o.pkg.ID)
	if record.ErrorCode(err) == record.ENotFound {
		return Transfer{}, false, nil
	}
	if err != nil {
		return Transfer{}, false, err
	}
	if t.Direction != In || t.PackageSHA256 != o.sha256 {
		return Transfer{}, false, record.Errorf(record.EConflict, "a different package with the id %s was received before (as %s); this one is refused", o.pkg.ID, t.Number)
	}
	return t, true, nil
}

func checkpointSize(p *Package) uint64 {
	lines := strings.SplitN(p.Checkpoint, "\n", 3)
	if len(lines) < 2 {
		return 0
	}
	var n uint64
	fmt.Sscanf(lines[1], "%d", &n)
	return n
}

// inPlan is what a transfer in will record, and what it overlaps.
type inPlan struct {
	person  string // the person key here, existing or to be
	facts   []record.Fact
	overlap []string
}

// plan works out the facts a package records here, today: the registration (or the re-activation of a record
// once transferred out from here), the deemed periods, the account transferred in — taking value from the month
// after the origin struck the balance, so that no month earns interest twice — and the months transferred.
// Months the person already has paid here are flagged as overlapping; they count once.
func (s *Service) plan(ctx context.Context, p *Package, now time.Time) (*inPlan, error) {
	rec := &p.Record
	id := p.IDNumber
	// The person's key here, or the one their registration will be given.
	key, registered, err := s.st.PersonKeyOf(ctx, id)
	if err != nil {
		return nil, err
	}
	pl := &inPlan{person: key, overlap: []string{}}
	ref := record.PersonRef{IDNumber: id}
	months := paidMonths(rec)
	if registered {
		view, err := s.st.PersonRecord(ctx, key)
		if err != nil {
			return nil, err
		}
		switch view.Status {
		case "active":
		case record.PersonTransferredOut:
			pl.facts = append(pl.facts, &record.PersonChanged{PersonRef: ref, Status: "active",
				Reason: fmt.Sprintf("转入：自 %s 转回（转移接续包 %s）", p.Origin.Region, p.ID)})
		default:
			return nil, refuse("the person is registered here with the status %s; a record is not transferred in to it", view.Status)
		}
		held := map[string]bool{}
		for _, c := range view.Contributions {
			if c.Status == record.StatusPaid {
				held[c.Type+" "+c.Period.String()] = true
			}
		}
		for _, m := range view.TransferredMonths {
			held[m.Type+" "+m.Period.String()] = true
		}
		for _, m := range months {
			if k := m.Type + " " + m.Period.String(); held[k] {
				pl.overlap = append(pl.overlap, k)
			}
		}
	} else {
		pl.facts = append(pl.facts, &record.PersonRegistered{PersonRef: ref, Name: rec.Person.Name, Region: s.st.Region(),
			RegisteredOn: now.In(s.cfg.Location).Format("2006-01-02")})
	}
	for _, d := range rec.Deemed {
		basis := []rune(fmt.Sprintf("转入自 %s（%s）：%s", p.Origin.Region, p.ID, d.Basis))
		if len(basis) > 500 {
			basis = basis[:500]
		}
		pl.facts = append(pl.facts, &record.DeemedRecorded{PersonRef: ref, Basis: string(basis), From: d.From, To: d.To})
	}
	pl.facts = append(pl.facts,
		&record.AccountTransferred{PersonRef: ref, Amount: int64(rec.Amounts.Account), Direction: "in", OtherRegion: p.Origin.Region, Period: p.Period.AddMonths(1)},
		&record.TransferredIn{PersonRef: ref, Months: months, Origin: p.Origin.Region, Package: p.ID, Period: p.Period, PooledFund: int64(rec.Amounts.PooledFund)})
	sort.Strings(pl.overlap)
	return pl, nil
}

// incoming returns the incoming transfer of a draft and its package, read in tx.
func incoming(ctx context.Context, st *store.Store, tx store.Tx, d review.Draft) (Transfer, *Package, error) {
	t, err := getIn(ctx, tx, "draft_id = $1", d.ID)
	if err != nil || t.Direction != In {
		return t, nil, fmt.Errorf("draft %s has no transfer in", d.Number)
	}
	var sealed []byte
	if err := tx.QueryRow(ctx, "SELECT package FROM transfers WHERE id = $1", t.ID).Scan(&sealed); err != nil {
		return t, nil, err
	}
	signed, err := st.Keys().Open(sealed, packageLabel)
	if err != nil {
		return t, nil, err
	}
	p := &Package{}
	if err := json.Unmarshal([]byte(noteText(signed)), p); err != nil {
		return t, nil, err
	}
	return t, p, nil
}

// inFactsAtApproval works out the transfer-in facts again at the final approval, as the record here stands then.
func inFactsAtApproval(ctx context.Context, st *store.Store, d review.Draft, now time.Time) ([]record.Fact, error) {
	tx, err := st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	_, p, err := incoming(ctx, st, tx, d)
	tx.Rollback(ctx)
	if err != nil {
		return nil, err
	}
	pl, err := serviceFor(st).plan(ctx, p, now)
	if err != nil {
		return nil, err
	}
	return pl.facts, nil
}

// inApproved marks the transfer accepted and queues the signed acknowledgement to the origin, in the approving
// transaction.
func inApproved(ctx context.Context, st *store.Store, tx store.Tx, d review.Draft, rc store.Receipt, approver string, now time.Time) error {
	t, p, err := incoming(ctx, st, tx, d)
	if err != nil {
		return err
	}
	ack := &Ack{At: now.UTC().Format(time.RFC3339Nano), Checkpoint: string(rc.Signed), Count: rc.Count, Destination: st.Region(),
		First: rc.First, Format: AckFormat, Package: p.ID, Status: "accepted"}
	signed, err := signAck(st, ack)
	if err != nil {
		return err
	}
	// The person as recorded in this transaction: their key is not the number's keyed hash when their ID number
	// was corrected here, or when the number was given up by someone else.
	var person string
	if err := tx.QueryRow(ctx, "SELECT person FROM persons WHERE id_index = $1", st.Keys().IndexID(p.IDNumber)).Scan(&person); err != nil {
		return fmt.Errorf("transfer %s: the person transferred in is not in the record: %w", t.Number, err)
	}
	if _, err := tx.Exec(ctx, "UPDATE transfers SET person = $1, first_seq = $2, event_count = $3 WHERE id = $4",
		person, rc.First, rc.Count, t.ID); err != nil {
		return err
	}
	if err := addHistory(ctx, tx, t.ID, now, StatusAccepted, approver, fmt.Sprintf("recorded as events %d–%d; acknowledgement queued for %s", rc.First, rc.First+rc.Count-1, p.Origin.Region)); err != nil {
		return err
	}
	if err := queue(ctx, tx, t.ID, "ack", p.Origin.Region, signed, now); err != nil {
		return err
	}
	kick(st)
	return nil
}

// inRejected refuses the transfer: a package cannot be corrected here, so the draft is closed and the origin
// told why.
func inRejected(ctx context.Context, st *store.Store, tx store.Tx, d review.Draft, actor, reason string, now time.Time) (bool, error) {
	t, p, err := incoming(ctx, st, tx, d)
	if err != nil {
		return false, err
	}
	signed, err := signAck(st, &Ack{At: now.UTC().Format(time.RFC3339Nano), Destination: st.Region(), Format: AckFormat, Package: p.ID,
		Reason: reason, Status: "refused"})
	if err != nil {
		return false, err
	}
	if err := addHistory(ctx, tx, t.ID, now, StatusRefused, actor, "refused at review: "+reason); err != nil {
		return false, err
	}
	if err := queue(ctx, tx, t.ID, "refusal", p.Origin.Region, signed, now); err != nil {
		return false, err
	}
	kick(st)
	return true, nil
}

func signAck(st *store.Store, a *Ack) ([]byte, error) {
	b, err := a.Encode()
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(b) + "\n"}, st.Keys().Signer)
}

// ReceiveAck takes the destination's acknowledgement or refusal of a package this agency sent: it must be signed
// by the destination's key on the trust list and name a transfer out to it. An acknowledgement received again
// changes nothing.
func (s *Service) ReceiveAck(ctx context.Context, signed []byte, source, actor string) (Transfer, error) {
	_, guess := formatOf(signed)
	fail := func(err error) (Transfer, error) {
		if c := record.ErrorCode(err); c == record.EInvalid || c == record.EConflict {
			s.logRefusal(ctx, Refusal{Source: source, PackageID: guess, SHA256: sha256Hex(signed), Reason: err.Error(), Actor: actor})
		}
		return Transfer{}, err
	}
	if len(signed) > MaxPackage {
		return fail(refuse("the acknowledgement is too large"))
	}
	keys, err := s.verifiers(ctx)
	if err != nil {
		return Transfer{}, err
	}
	text, signer, err := openNote(signed, keys, "acknowledgement")
	if err != nil {
		return fail(err)
	}
	a := &Ack{}
	if err := decodeCanonical(text, a, a.Encode, "acknowledgement"); err != nil {
		return fail(err)
	}
	switch {
	case a.Format != AckFormat:
		return fail(refuse("the acknowledgement format is %q, not %q", a.Format, AckFormat))
	case signer != KeyName(a.Destination):
		return fail(refuse("the acknowledgement says it comes from region %s but is signed by %s", a.Destination, signer))
	case a.Status != "accepted" && a.Status != "refused":
		return fail(refuse("the acknowledgement's status %q is neither accepted nor refused", a.Status))
	}
	t, err := s.ByPackage(ctx, a.Package)
	if err != nil || t.Direction != Out || t.OtherRegion != a.Destination {
		return fail(refuse("no package %s was sent to region %s", a.Package, a.Destination))
	}
	detail := "the destination refused the transfer: " + a.Reason
	status := StatusRefused
	if a.Status == "accepted" {
		v, err := note.NewVerifier(keys[signer])
		if err != nil {
			return Transfer{}, err
		}
		cp, err := journal.OpenCheckpoint([]byte(a.Checkpoint), v)
		if err != nil {
			return fail(refuse("the acknowledgement's checkpoint: %v", err))
		}
		if a.Count <= 0 || uint64(a.First+a.Count) > cp.Size {
			return fail(refuse("the acknowledgement names events %d+%d beyond its checkpoint of %d", a.First, a.Count, cp.Size))
		}
		status = StatusAcknowledged
		detail = fmt.Sprintf("recorded at the destination as events %d–%d of its journal (signed checkpoint of %d events)", a.First, a.First+a.Count-1, cp.Size)
	}
	if t.Status == status {
		return t, nil
	}
	if t.Status == StatusAcknowledged || t.Status == StatusRequested || t.Status == StatusWithdrawn {
		return fail(record.Errorf(record.EConflict, "transfer %s is %s; the %s acknowledgement does not apply", t.Number, t.Status, a.Status))
	}
	now := s.now()
	err = s.write(ctx, func(tx store.Tx) error {
		return addHistory(ctx, tx, t.ID, now, status, "agency:"+a.Destination, detail)
	})
	if err != nil {
		return Transfer{}, err
	}
	return s.Get(ctx, t.ID)
}
