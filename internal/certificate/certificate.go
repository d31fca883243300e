// Package certificate issues and checks insurance certificates (参保证明, Q2): a printed statement of a person's
// contributions or benefits over a chosen span, issued to the person in the portal or by staff on their behalf.
//
// Each certificate carries a verification code (验真码) and a QR code pointing at the agency's public check
// page. What a certificate asserts is bound to the journal: it names the events its lines rest on and the signed
// checkpoint they are proven against, and its body is signed with the agency's key. The check page proves the
// lines again — checkpoint signature, every event's inclusion proof, the facts re-derived from the events — and
// shows what the certificate asserts only when the code is genuine and the certificate current (not expired,
// not revoked, none of its events corrected since). A forged or altered code, or a certificate changed in the
// database, is refused.
package certificate

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/journal"
	"sirec/internal/pdf"
	"sirec/internal/querylog"
	"sirec/internal/record"
	"sirec/internal/store"
)

// Kinds of certificate.
const (
	KindContributions = "contributions" // 参保缴费证明: months paid per insurance type
	KindBenefits      = "benefits"      // 待遇领取证明: benefit payments per kind
)

// Kinds lists the kinds of certificate.
var Kinds = []string{KindContributions, KindBenefits}

// KindTitles are the printed titles.
var KindTitles = map[string]string{KindContributions: "社会保险参保缴费证明", KindBenefits: "社会保险待遇领取证明"}

// Validity is how long a certificate is valid from its issue.
const Validity = 90 * 24 * time.Hour

// Issuer kinds.
const (
	IssuerPerson = "person" // the person, in the portal
	IssuerStaff  = "staff"  // staff, on the person's behalf
)

// Format is the version of the body layout.
const Format = 1

// Line is one line a certificate asserts.
type Line struct {
	Type   string        `json:"type"`   // insurance type (contributions) or benefit kind (benefits)
	Months int           `json:"months"` // contributions: distinct months paid; benefits: payments
	First  record.Period `json:"first"`
	Last   record.Period `json:"last"`
	Ranges string        `json:"ranges"` // the months, as runs: "202301-202306, 202308-202412"
	Amount record.Fen    `json:"amount"` // contributions: employer and individual shares paid; benefits: amounts paid
}

// Body is what a certificate asserts, and what it rests on. Its JSON encoding is what the agency signs.
type Body struct {
	Format     int           `json:"format"`
	Number     string        `json:"number"`
	Kind       string        `json:"kind"`
	Person     string        `json:"person"`
	Name       string        `json:"name"`
	IDMasked   string        `json:"id_number_masked"`
	From       record.Period `json:"from"`
	To         record.Period `json:"to"`
	Lines      []Line        `json:"lines"`
	IssuedAt   time.Time     `json:"issued_at"`
	ValidUntil time.Time     `json:"valid_until"`
	Region     string        `json:"region"`
	Checkpoint uint64        `json:"checkpoint_size"`
	Root       string        `json:"checkpoint_root"` // base64, as in the signed checkpoint
	Events     []int64       `json:"events"`          // the journal events the lines rest on
}

// Certificate is an issued certificate.
type Certificate struct {
	Body
	Code         string    `json:"code"` // the verification code, formatted
	IssuerKind   string    `json:"issuer_kind"`
	Issuer       string    `json:"issuer"`
	Signed       string    `json:"signed"` // the agency's signed note over the body
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokedBy    string    `json:"revoked_by,omitempty"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// Service issues and checks certificates.
type Service struct {
	st    *store.Store
	fonts *pdf.FontSource
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Location is the agency's time zone, for printed dates.
	Location *time.Location
}

// New returns the certificate service of a store, printing with fonts.
func New(st *store.Store, fonts *pdf.FontSource) *Service {
	if fonts == nil {
		fonts = &pdf.FontSource{}
	}
	return &Service{st: st, fonts: fonts, Now: time.Now, Location: time.Local}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Second) }

// Request asks for a certificate.
type Request struct {
	Person     string        `json:"person"`
	Kind       string        `json:"kind"`
	From       record.Period `json:"from"`
	To         record.Period `json:"to"`
	IssuerKind string        `json:"-"`
	Issuer     string        `json:"-"`
	Purpose    string        `json:"-"` // staff: the purpose logged for reading the record
}

func (s *Service) validate(r Request) error {
	var errs record.Errors
	if !slices.Contains(Kinds, r.Kind) {
		errs.Append("", record.Invalid("kind", "certificate_kind", "kind must be %s", strings.Join(Kinds, " or ")))
	}
	if err := r.From.Validate("from"); err != nil {
		errs.Append("", err)
	}
	if err := r.To.Validate("to"); err != nil {
		errs.Append("", err)
	}
	now := s.now().In(s.Location)
	if len(errs) == 0 {
		switch {
		case r.To < r.From:
			errs.Append("", record.Invalid("to", "period_order", "the span must end at or after its start"))
		case r.To > record.MakePeriod(now.Year(), int(now.Month())):
			errs.Append("", record.Invalid("to", "period_not_future", "the span cannot end after this month"))
		case r.To.Index()-r.From.Index() >= 50*12:
			errs.Append("", record.Invalid("from", "span_max", "a certificate covers at most 50 years"))
		}
	}
	return errs.Err()
}

// lines computes what a certificate of kind asserts for the span from a person's record rows, and the events
// it rests on.
func lines(kind string, from, to record.Period, contributions []store.ContributionView, benefits []store.BenefitView) ([]Line, []int64) {
	type acc struct {
		months map[record.Period]bool
		count  int
		amount record.Fen
	}
	by := map[string]*acc{}
	get := func(k string) *acc {
		if by[k] == nil {
			by[k] = &acc{months: map[record.Period]bool{}}
		}
		return by[k]
	}
	var events []int64
	order := record.InsuranceTypes
	if kind == KindContributions {
		for _, c := range contributions {
			if c.Period < from || c.Period > to || c.Status != record.StatusPaid {
				continue
			}
			a := get(c.Type)
			a.months[c.Period] = true
			a.amount += c.EmployerAmt + c.IndividualAmt
			events = append(events, c.Seq)
		}
	} else {
		order = record.EligibilityKinds
		for _, b := range benefits {
			if b.Period < from || b.Period > to {
				continue
			}
			a := get(b.Kind)
			a.months[b.Period] = true
			a.count++
			a.amount += b.Amount
			events = append(events, b.Seq)
		}
	}
	out := []Line{}
	for _, k := range order {
		a := by[k]
		if a == nil {
			continue
		}
		ps := make([]record.Period, 0, len(a.months))
		for p := range a.months {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		l := Line{Type: k, Months: len(ps), First: ps[0], Last: ps[len(ps)-1], Ranges: ranges(ps), Amount: a.amount}
		if kind == KindBenefits {
			l.Months = a.count
		}
		out = append(out, l)
	}
	slices.Sort(events)
	return out, events
}

// ranges writes sorted periods as runs of consecutive months.
func ranges(ps []record.Period) string {
	var parts []string
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1].Index() == ps[j].Index()+1 {
			j++
		}
		if i == j {
			parts = append(parts, ps[i].String())
		} else {
			parts = append(parts, ps[i].String()+"-"+ps[j].String())
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// Number formats a certificate number: C00000042.
func Number(id int64) string { return fmt.Sprintf("C%08d", id) }

func signText(origin, number string, body []byte) string {
	sum := sha256.Sum256(body)
	return origin + "/certificate\n" + number + "\n" + base64.StdEncoding.EncodeToString(sum[:]) + "\n"
}

// Issue makes a certificate from the person's record as it stands, bound to the latest signed checkpoint. When
// staff issue it, their reading of the record is logged first (Q7).
func (s *Service) Issue(ctx context.Context, r Request) (Certificate, error) {
	if err := s.validate(r); err != nil {
		return Certificate{}, err
	}
	if r.IssuerKind != IssuerPerson && r.IssuerKind != IssuerStaff || r.Issuer == "" {
		return Certificate{}, record.Invalid("issuer", "issuer", "a certificate is issued by the person or by staff")
	}
	v, err := s.st.PersonRecord(ctx, r.Person)
	if err != nil {
		return Certificate{}, err
	}
	now := s.now()
	if r.IssuerKind == IssuerStaff {
		purpose := r.Purpose
		if purpose == "" {
			purpose = "certificate"
		}
		if err := querylog.Append(ctx, s.st.Driver(), querylog.Entry{At: now, ActorKind: querylog.ActorStaff, Actor: r.Issuer, Person: r.Person,
			Page: "certificate/" + r.Kind, Fields: "identity," + r.Kind, Purpose: purpose}); err != nil {
			return Certificate{}, err
		}
	}
	// Everything PersonRecord read is in the journal up to the checkpoint read after it.
	cp, _, err := s.st.LatestCheckpoint(ctx)
	if err != nil {
		return Certificate{}, err
	}
	ls, events := lines(r.Kind, r.From, r.To, v.Contributions, v.Benefits)
	for _, e := range events {
		if uint64(e) >= cp.Size {
			return Certificate{}, fmt.Errorf("certificate: event %d is beyond checkpoint %d", e, cp.Size)
		}
	}
	code := newCode()
	b := Body{Format: Format, Kind: r.Kind, Person: v.Person, Name: v.Name, IDMasked: v.IDMasked, From: r.From, To: r.To, Lines: ls,
		IssuedAt: now, ValidUntil: now.Add(Validity), Region: s.st.Region(), Checkpoint: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root), Events: events}
	if b.Events == nil {
		b.Events = []int64{}
	}
	keys := s.st.Keys()
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return Certificate{}, err
	}
	defer tx.Rollback(ctx)
	var id int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) + 1 FROM certificates").Scan(&id); err != nil {
		return Certificate{}, err
	}
	b.Number = Number(id)
	body, err := json.Marshal(b)
	if err != nil {
		return Certificate{}, err
	}
	signed, err := note.Sign(&note.Note{Text: signText(keys.Origin, b.Number, body)}, keys.Signer)
	if err != nil {
		return Certificate{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO certificates (number, code_hash, code_sealed, person, kind, span_from, span_to, issued_at, valid_until, issuer_kind, issuer,
		checkpoint_size, body, signed, revoked_at, revoked_by, revoke_reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, '', '')`,
		b.Number, codeHash(code), keys.Seal([]byte(code), "certificate-code:"+b.Number), b.Person, b.Kind, int64(b.From), int64(b.To), b.IssuedAt.UnixMilli(),
		b.ValidUntil.UnixMilli(), r.IssuerKind, r.Issuer, int64(b.Checkpoint), string(body), string(signed)); err != nil {
		return Certificate{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Certificate{}, err
	}
	return Certificate{Body: b, Code: FormatCode(code), IssuerKind: r.IssuerKind, Issuer: r.Issuer, Signed: string(signed)}, nil
}

const certCols = "number, code_sealed, issuer_kind, issuer, body, signed, revoked_at, revoked_by, revoke_reason"

func (s *Service) scan(r store.Row) (Certificate, error) {
	var c Certificate
	var sealed []byte
	var body string
	var revoked int64
	if err := r.Scan(&c.Number, &sealed, &c.IssuerKind, &c.Issuer, &body, &c.Signed, &revoked, &c.RevokedBy, &c.RevokeReason); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(body), &c.Body); err != nil {
		return c, err
	}
	if code, err := s.st.Keys().Open(sealed, "certificate-code:"+c.Number); err == nil {
		c.Code = FormatCode(string(code))
	}
	if revoked != 0 {
		c.RevokedAt = time.UnixMilli(revoked).UTC()
	}
	return c, nil
}

// Get reads a certificate by number, with its code: for its person and for staff, to print it again.
func (s *Service) Get(ctx context.Context, number string) (Certificate, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Certificate{}, err
	}
	defer tx.Rollback(ctx)
	c, err := s.scan(tx.QueryRow(ctx, "SELECT "+certCols+" FROM certificates WHERE number = $1", strings.ToUpper(strings.TrimSpace(number))))
	if errors.Is(err, store.ErrNoRows) {
		return c, record.Errorf(record.ENotFound, "certificate %s does not exist", number)
	}
	return c, err
}

// List returns a person's certificates, newest first (at most 200).
func (s *Service) List(ctx context.Context, person string) ([]Certificate, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, "SELECT "+certCols+" FROM certificates WHERE person = $1 ORDER BY issued_at DESC, number DESC LIMIT 200", person)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Certificate{}
	for rows.Next() {
		c, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Revoke withdraws a certificate (issued in error, or its facts corrected); the check page then refuses it.
func (s *Service) Revoke(ctx context.Context, actor, number, reason string) (Certificate, error) {
	if strings.TrimSpace(reason) == "" {
		return Certificate{}, record.Invalid("reason", "revoke_reason", "say why the certificate is revoked")
	}
	c, err := s.Get(ctx, number)
	if err != nil {
		return c, err
	}
	if !c.RevokedAt.IsZero() {
		return c, record.Errorf(record.EConflict, "certificate %s is revoked already", c.Number)
	}
	tx, err := s.st.Driver().Begin(ctx, true)
	if err != nil {
		return c, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "UPDATE certificates SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 WHERE number = $4 AND revoked_at = 0",
		s.now().UnixMilli(), actor, strings.TrimSpace(reason), c.Number); err != nil {
		return c, err
	}
	if err := tx.Commit(ctx); err != nil {
		return c, err
	}
	return s.Get(ctx, c.Number)
}

// Outcomes of a check.
const (
	Valid      = "valid"       // genuine and current: what it asserts is shown
	Mistyped   = "mistyped"    // not a well-formed code: a typing error, or an altered code
	Unknown    = "unknown"     // no certificate has this code: forged or altered
	Forged     = "forged"      // the certificate's record fails its signature or its proofs: changed after issue
	Expired    = "expired"     // past its validity
	Revoked    = "revoked"     // withdrawn by the agency
	NotCurrent = "not_current" // an event it rests on has been corrected or voided since
)

// Proof tells how the check page proved a certificate's lines.
type Proof struct {
	Origin     string `json:"origin"`          // the signer of the checkpoint and the certificate
	Checkpoint uint64 `json:"checkpoint_size"` // the signed checkpoint the events were proven against
	Root       string `json:"checkpoint_root"`
	Events     int    `json:"events"` // events proven included
}

// Result is what the public check page shows: the outcome, and the assertions only when Valid.
type Result struct {
	Status string `json:"status"`
	Number string `json:"number,omitempty"` // known once the code is genuine
	Reason string `json:"reason,omitempty"` // why a genuine certificate is not valid now
	Body   *Body  `json:"certificate,omitempty"`
	Proof  *Proof `json:"proof,omitempty"`
}

// Check checks a verification code as the public check page does. Only a valid certificate's assertions are
// returned; for every other outcome nothing about the person is.
func (s *Service) Check(ctx context.Context, code string) (Result, error) {
	c, ok := NormalizeCode(code)
	if !ok {
		return Result{Status: Mistyped}, nil
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Result{}, err
	}
	var number, body, signed, reason string
	var revoked int64
	err = tx.QueryRow(ctx, "SELECT number, body, signed, revoked_at, revoke_reason FROM certificates WHERE code_hash = $1", codeHash(c)).
		Scan(&number, &body, &signed, &revoked, &reason)
	tx.Rollback(ctx)
	if errors.Is(err, store.ErrNoRows) {
		return Result{Status: Unknown}, nil
	}
	if err != nil {
		return Result{}, err
	}
	res := Result{Number: number}
	keys := s.st.Keys()
	// The body is what the agency signed.
	n, err := note.Open([]byte(signed), note.VerifierList(keys.Verifier))
	if err != nil || n.Text != signText(keys.Origin, number, []byte(body)) {
		res.Status, res.Reason = Forged, "the certificate's record does not match the agency's signature"
		return res, nil
	}
	var b Body
	if err := json.Unmarshal([]byte(body), &b); err != nil || b.Number != number {
		res.Status, res.Reason = Forged, "the certificate's record is malformed"
		return res, nil
	}
	now := s.Now()
	switch {
	case revoked != 0:
		res.Status, res.Reason = Revoked, "revoked by the agency: "+reason
		return res, nil
	case !now.Before(b.ValidUntil):
		res.Status, res.Reason = Expired, "valid until "+b.ValidUntil.In(s.Location).Format("2006-01-02")
		return res, nil
	}
	proof, status, why, err := s.prove(ctx, b)
	if err != nil {
		return Result{}, err
	}
	if status != Valid {
		res.Status, res.Reason = status, why
		return res, nil
	}
	res.Status, res.Body, res.Proof = Valid, &b, proof
	return res, nil
}

// prove checks a certificate's lines against the journal: the signed checkpoint it names, each event's
// inclusion in it, and the lines re-derived from the events and their projections as they are now.
func (s *Service) prove(ctx context.Context, b Body) (*Proof, string, string, error) {
	cp, err := s.st.Checkpoint(ctx, b.Checkpoint)
	if err != nil {
		return nil, Forged, "the signed checkpoint it names does not verify", nil
	}
	if base64.StdEncoding.EncodeToString(cp.Root) != b.Root {
		return nil, Forged, "the signed checkpoint's root is not the one it names", nil
	}
	want := map[int64]bool{}
	for _, seq := range b.Events {
		want[seq] = true
		_, raw, err := s.st.Event(ctx, seq)
		if err != nil {
			return nil, Forged, fmt.Sprintf("event %d it rests on cannot be read", seq), nil
		}
		p, err := s.st.InclusionProof(ctx, seq, b.Checkpoint)
		if err != nil {
			return nil, "", "", err
		}
		if err := journal.VerifyInclusion(raw, uint64(seq), b.Checkpoint, p, cp.Root); err != nil {
			return nil, Forged, fmt.Sprintf("event %d is not in the signed journal as it was", seq), nil
		}
		e, err := journal.Decode(raw)
		if err != nil || e.Person != b.Person {
			return nil, Forged, fmt.Sprintf("event %d is not about this person", seq), nil
		}
	}
	// The lines again, from the person's record now: every event still stands (not corrected or voided) and
	// gives the same figures.
	v, err := s.st.PersonRecord(ctx, b.Person)
	if err != nil {
		return nil, "", "", err
	}
	var cs []store.ContributionView
	for _, c := range v.Contributions {
		if want[c.Seq] {
			cs = append(cs, c)
		}
	}
	var bs []store.BenefitView
	for _, x := range v.Benefits {
		if want[x.Seq] {
			bs = append(bs, x)
		}
	}
	ls, events := lines(b.Kind, b.From, b.To, cs, bs)
	if !slices.Equal(events, b.Events) {
		return nil, NotCurrent, "a record it rests on has been corrected since it was issued", nil
	}
	if !slices.Equal(ls, b.Lines) {
		return nil, NotCurrent, "the figures it states are no longer what the record gives", nil
	}
	return &Proof{Origin: s.st.Keys().Origin, Checkpoint: b.Checkpoint, Root: b.Root, Events: len(b.Events)}, Valid, "", nil
}

// PDF prints a certificate, its QR code pointing at the check page under base (the agency's public address).
func (s *Service) PDF(c Certificate, base string) ([]byte, error) {
	f, err := s.fonts.Fonts()
	if err != nil {
		return nil, err
	}
	code, _ := NormalizeCode(c.Code)
	return Render(f, c, CheckURL(base, code), s.Location)
}
