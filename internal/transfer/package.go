package transfer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/rules"
)

// Format names the package format; a package of another format is refused.
const Format = "sirec-transfer/1"

// Package is a transfer package (转移接续信息包): a person's rights record as the origin agency holds it at
// transfer, with every event it rests on and the proof that each is in the origin's journal, signed by the
// origin as a C2SP signed note whose text is the package's canonical JSON (encoding/json of this struct, one
// line). Record is derived from Events by the rules alone — the destination derives it again and refuses the
// package unless every figure is the same.
type Package struct {
	Checkpoint  string        `json:"checkpoint"` // the origin's signed checkpoint the proofs are against
	Created     string        `json:"created"`    // RFC 3339, UTC
	Destination string        `json:"destination"`
	Events      []ProvenEvent `json:"events"`
	Format      string        `json:"format"`
	ID          string        `json:"id"`
	IDNumber    string        `json:"id_number"` // the person's citizen ID number, in clear: the destination registers it
	Origin      Agency        `json:"origin"`
	Out         OutEvents     `json:"out_events"`
	Period      record.Period `json:"period"` // the month of transfer: the account balance is struck at its end
	Reason      string        `json:"reason"`
	Record      Record        `json:"record"`
	RuleEvents  []int64       `json:"rule_events"` // the seqs of the rule sets adopted at the origin, among Events
	Rules       string        `json:"rules"`       // the built-in national default the figures start from
}

// Agency names the origin.
type Agency struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	URL    string `json:"url"`
}

// OutEvents are the two events the origin recorded on approving the transfer.
type OutEvents struct {
	Account  int64 `json:"account"`  // account.transferred, direction out
	Transfer int64 `json:"transfer"` // transfer.out
}

// ProvenEvent is one event of the origin's journal: its canonical encoding and its inclusion proof against
// Checkpoint (hashes in base64, RFC 6962).
type ProvenEvent struct {
	Body  string   `json:"body"`
	Proof []string `json:"proof"`
	Seq   int64    `json:"seq"`
}

// Record is the person's record as the rules make it of the package's events.
type Record struct {
	Account           Account            `json:"account"`
	Amounts           Amounts            `json:"amounts"`
	Contributions     []Contribution     `json:"contributions"`
	Deemed            []Deemed           `json:"deemed"`
	Enrolments        []Enrolment        `json:"enrolments"`
	Index             Index              `json:"index"`
	Months            []Months           `json:"months"`
	Person            Person             `json:"person"`
	TransferredMonths []TransferredMonth `json:"transferred_months"`
}

// Person is the registration: the person key at the origin and what the registration and its latest change say.
type Person struct {
	Birth        string `json:"birth"`
	Key          string `json:"key"`
	Name         string `json:"name"`
	Region       string `json:"region"`
	RegisteredOn string `json:"registered_on"`
	Sex          string `json:"sex"`
}

// Enrolment is an insurance relationship at the origin.
type Enrolment struct {
	Employer string `json:"employer,omitempty"`
	From     string `json:"from"`
	Seq      int64  `json:"seq"`
	StopSeq  int64  `json:"stop_seq,omitempty"`
	To       string `json:"to,omitempty"`
	Type     string `json:"type"`
}

// Contribution is one contribution month with what the rules give it: the base, the individual amount, the
// account credit and, for a pension month, the average wage its base is indexed against.
type Contribution struct {
	AccountCredit record.Fen    `json:"account_credit"`
	Base          record.Fen    `json:"base"`
	Employer      string        `json:"employer,omitempty"`
	IndexWage     record.Fen    `json:"index_wage"`
	Individual    record.Fen    `json:"individual_amount"`
	LateDays      int           `json:"late_days,omitempty"`
	Period        record.Period `json:"period"`
	Seq           int64         `json:"seq"`
	Status        string        `json:"status"`
	Type          string        `json:"type"`
	Wage          record.Fen    `json:"wage"`
}

// Deemed is a deemed contribution period (视同缴费).
type Deemed struct {
	Basis string        `json:"basis"`
	From  record.Period `json:"from"`
	Seq   int64         `json:"seq"`
	To    record.Period `json:"to"`
}

// TransferredMonth is a month an earlier transfer brought to the origin.
type TransferredMonth struct {
	Base      record.Fen    `json:"base"`
	IndexWage record.Fen    `json:"index_wage"`
	Origin    string        `json:"origin"`
	Period    record.Period `json:"period"`
	Seq       int64         `json:"seq"`
	Type      string        `json:"type"`
}

// Months are the contribution months of one insurance type (缴费年限 in months).
type Months struct {
	Deemed int    `json:"deemed"`
	Paid   int    `json:"paid"`
	Total  int    `json:"total"`
	Type   string `json:"type"`
	Years  string `json:"years"`
}

// Index is the average contribution index (平均缴费指数), exact and to four decimals; empty without pension months.
type Index struct {
	Decimal string `json:"decimal"`
	Exact   string `json:"exact"`
}

// Account is the personal account: the balance transferred and the account year by year to the transfer.
type Account struct {
	Balance record.Fen    `json:"balance"`
	Years   []AccountYear `json:"years"`
}

// AccountYear is one year of the personal account.
type AccountYear struct {
	Closing      record.Fen `json:"closing"`
	Credits      record.Fen `json:"credits"`
	Interest     record.Fen `json:"interest"`
	Opening      record.Fen `json:"opening"`
	Provisional  bool       `json:"provisional"`
	Rate         string     `json:"rate"`
	TransfersIn  record.Fen `json:"transfers_in"`
	TransfersOut record.Fen `json:"transfers_out"`
	Year         int        `json:"year"`
}

// Amounts are the transfer amounts the rules give (2009 No. 66): the personal account in full and the pooled
// fund at 12 % of the bases since 1998.
type Amounts struct {
	Account      record.Fen `json:"account"`
	PooledBases  record.Fen `json:"pooled_bases"`
	PooledFund   record.Fen `json:"pooled_fund"`
	PooledMonths int        `json:"pooled_months"`
}

// RulesVersion identifies the built-in national default rule set: its version and the SHA-256 of its
// canonical text. Both agencies must start from the same one for the figures to agree.
func RulesVersion() string {
	d := rules.Default()
	sum := sha256.Sum256(d.Canonical())
	return d.Version() + " sha256:" + hex.EncodeToString(sum[:8])
}

// Encode returns the package's canonical encoding: compact JSON, fields in the order of the structs.
func (p *Package) Encode() ([]byte, error) { return json.Marshal(p) }

// Sign returns the signed package: a note whose text is the canonical JSON and a newline.
func (p *Package) Sign(s note.Signer) ([]byte, error) {
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(b) + "\n"}, s)
}

// Refusal is why a package or acknowledgement is refused: a record.Error of code invalid with rule
// "transfer_refused" whose message says what failed.
func refuse(format string, args ...any) error {
	return record.Invalid("package", "transfer_refused", format, args...)
}

// openNote checks a signed note against the trust list and returns its text without the final newline and
// the name of the one key that signed it.
func openNote(signed []byte, known note.Verifiers, what string) (string, string, error) {
	if len(signed) == 0 {
		return "", "", refuse("the %s is empty", what)
	}
	n, err := note.Open(signed, known)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			var names []string
			for _, s := range unverified.Note.UnverifiedSigs {
				names = append(names, s.Name)
			}
			return "", "", refuse("the %s is signed by %s, which is not on this agency's trust list (or not with the key on it)", what, strings.Join(names, ", "))
		case errors.As(err, &invalid):
			return "", "", refuse("the signature of %s does not verify: the %s was changed after it was signed", invalid.Name, what)
		}
		return "", "", refuse("the %s is not a signed note: %v", what, err)
	}
	if len(n.Sigs) != 1 {
		return "", "", refuse("the %s carries %d trusted signatures; exactly one is expected", what, len(n.Sigs))
	}
	return strings.TrimSuffix(n.Text, "\n"), n.Sigs[0].Name, nil
}

// decodeCanonical decodes JSON strictly and checks that it is the canonical encoding of what it decodes to, so
// that one package has exactly one encoding.
func decodeCanonical(text string, v any, encode func() ([]byte, error), what string) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return refuse("the %s is not valid: %v", what, err)
	}
	if dec.More() {
		return refuse("the %s has data after its end", what)
	}
	b, err := encode()
	if err != nil {
		return err
	}
	if !bytes.Equal(b, []byte(text)) {
		return refuse("the %s is not in canonical form", what)
	}
	return nil
}

// opened is a package that passed every check.
type opened struct {
	pkg    *Package
	signed []byte
	sha256 string
	events []journal.Event // Events decoded, in order
}

// openPackage checks a signed package for this agency (region own) against the trust list: the signature of its
// origin, the canonical encoding, the origin's checkpoint, the inclusion proof of every event, that the events
// are the person's and include the transfer, and that the record is exactly what the rules make of the events.
// Any failure is a refusal naming what failed.
func openPackage(signed []byte, known note.Verifiers, own string) (*opened, error) {
	text, signer, err := openNote(signed, known, "package")
	if err != nil {
		return nil, err
	}
	p := &Package{}
	if err := decodeCanonical(text, p, p.Encode, "package"); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(signed)
	o := &opened{pkg: p, signed: signed, sha256: hex.EncodeToString(sum[:])}
	switch {
	case p.Format != Format:
		return nil, refuse("the package format is %q; this agency reads %q", p.Format, Format)
	case signer != KeyName(p.Origin.Region):
		return nil, refuse("the package says it comes from region %s but is signed by %s", p.Origin.Region, signer)
	case p.Destination != own:
		return nil, refuse("the package is addressed to region %s, not to this agency (%s)", p.Destination, own)
	case record.ValidatePackageID("id", p.ID) != nil || !strings.HasPrefix(p.ID, p.Origin.Region+"-"):
		return nil, refuse("the package id %q is not one of region %s", p.ID, p.Origin.Region)
	case p.Period.Validate("period") != nil:
		return nil, refuse("the package's month of transfer %d is not a month", p.Period)
	case p.Rules != RulesVersion():
		return nil, refuse("the origin's figures start from the national default rules %s; this agency has %s — the figures cannot be checked", p.Rules, RulesVersion())
	}
	if err := record.ValidateCitizenID("id_number", p.IDNumber, time.Now()); err != nil {
		return nil, refuse("the package's ID number is not valid: %v", err)
	}
	v, err := note.NewVerifier(verifierOf(known, signer))
	if err != nil {
		return nil, err
	}
	cp, err := journal.OpenCheckpoint([]byte(p.Checkpoint), v)
	if err != nil {
		return nil, refuse("the origin's checkpoint: %v", err)
	}
	last := int64(-1)
	for i, pe := range p.Events {
		e, err := journal.Decode([]byte(pe.Body))
		if err != nil {
			return nil, refuse("events[%d]: %v", i, err)
		}
		if e.Seq != pe.Seq || e.Seq <= last {
			return nil, refuse("events[%d]: the event's number %d is not the one listed (%d) or not in order", i, e.Seq, pe.Seq)
		}
		last = e.Seq
		if uint64(e.Seq) >= cp.Size {
			return nil, refuse("event %d is beyond the checkpoint (%d events)", e.Seq, cp.Size)
		}
		proof := make([][]byte, len(pe.Proof))
		for j, h := range pe.Proof {
			if proof[j], err = base64.StdEncoding.DecodeString(h); err != nil {
				return nil, refuse("event %d: proof hash %d is not base64", e.Seq, j)
			}
		}
		if err := journal.VerifyInclusion([]byte(pe.Body), uint64(e.Seq), cp.Size, proof, cp.Root); err != nil {
			return nil, refuse("event %d is not proven in the origin's journal of %d events: %v", e.Seq, cp.Size, err)
		}
		if e.Region != p.Origin.Region {
			return nil, refuse("event %d was recorded in region %s, not by the origin %s", e.Seq, e.Region, p.Origin.Region)
		}
		o.events = append(o.events, e)
	}
	want, err := declare(p.Origin.Region, p.Record.Person.Key, p.Period, p.Out, p.RuleEvents, o.events)
	if err != nil {
		return nil, refuse("the events do not make a record: %v", err)
	}
	if err := compareRecords(&p.Record, want); err != nil {
		return nil, err
	}
	if err := checkOut(p, o.events); err != nil {
		return nil, err
	}
	if b, s := record.BirthFromID(p.IDNumber).Format("2006-01-02"), record.SexFromID(p.IDNumber); b != want.Person.Birth || s != want.Person.Sex {
		return nil, refuse("the ID number %s does not belong to the registration in the events (birth %s, sex %s)", record.MaskID(p.IDNumber), want.Person.Birth, want.Person.Sex)
	}
	return o, nil
}

// verifierOf returns the verifier key text of a signer from a trust list.
func verifierOf(known note.Verifiers, name string) string {
	if l, ok := known.(verifierKeys); ok {
		return l[name]
	}
	return ""
}

// verifierKeys is a trust list as note.Verifiers that also keeps each key's text.
type verifierKeys map[string]string

func (k verifierKeys) Verifier(name string, hash uint32) (note.Verifier, error) {
	text, ok := k[name]
	if !ok {
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, err
	}
	if v.KeyHash() != hash {
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	}
	return v, nil
}

// compareRecords compares the record a package states with the one the rules make of its events, part by
// part, and names the first part that differs.
func compareRecords(got *Record, want *Record) error {
	parts := []struct {
		name      string
		got, want any
	}{
		{"record.person", got.Person, want.Person},
		{"record.enrolments", got.Enrolments, want.Enrolments},
		{"record.contributions", got.Contributions, want.Contributions},
		{"record.deemed", got.Deemed, want.Deemed},
		{"record.transferred_months", got.TransferredMonths, want.TransferredMonths},
		{"record.months", got.Months, want.Months},
		{"record.index", got.Index, want.Index},
		{"record.account", got.Account, want.Account},
		{"record.amounts", got.Amounts, want.Amounts},
	}
	for _, pt := range parts {
		g, _ := json.Marshal(pt.got)
		w, _ := json.Marshal(pt.want)
		if !bytes.Equal(g, w) {
			return refuse("%s differs from what the rules make of the events: the package says %s, the events give %s", pt.name, clip(g), clip(w))
		}
	}
	return nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// checkOut checks that the events include the origin's record of this transfer, stating its amounts.
func checkOut(p *Package, events []journal.Event) error {
	var acc, tr *journal.Event
	for i := range events {
		switch events[i].Seq {
		case p.Out.Account:
			acc = &events[i]
		case p.Out.Transfer:
			tr = &events[i]
		}
	}
	if acc == nil || tr == nil || acc.Type != record.TypeAccountTransferred || tr.Type != record.TypeTransferredOut {
		return refuse("the events do not include the origin's record of the transfer out (events %d and %d)", p.Out.Account, p.Out.Transfer)
	}
	var a record.AccountTransferred
	var t record.TransferredOut
	if json.Unmarshal(acc.Data, &a) != nil || json.Unmarshal(tr.Data, &t) != nil {
		return refuse("the transfer-out events do not decode")
	}
	switch {
	case t.Package != p.ID || t.Destination != p.Destination || t.Period != p.Period:
		return refuse("the transfer-out event names package %s to %s in %s, not this package", t.Package, t.Destination, t.Period)
	case a.Direction != "out" || a.OtherRegion != p.Destination || a.Period != p.Period || a.Amount != int64(p.Record.Amounts.Account):
		return refuse("the account transfer-out event (%s %s to %s in %s) is not this package's account amount %s", a.Direction, record.Fen(a.Amount), a.OtherRegion, a.Period, p.Record.Amounts.Account)
	case t.PooledFund != int64(p.Record.Amounts.PooledFund):
		return refuse("the transfer-out event's pooled fund %s is not the package's %s", record.Fen(t.PooledFund), p.Record.Amounts.PooledFund)
	case acc.Person != p.Record.Person.Key || tr.Person != p.Record.Person.Key:
		return refuse("the transfer-out events are about another person")
	}
	return nil
}

// declare makes the record of a person from events of the origin's journal, by the rules: the built-in national
// default and the rule sets adopted at the origin (the events at ruleSeqs, in order). period is the month of
// transfer and out the two events recording it. It is what the origin writes into the package and what the
// destination checks the package against.
func declare(region, key string, period record.Period, out OutEvents, ruleSeqs []int64, events []journal.Event) (*Record, error) {
	book := rules.NewBook()
	isRule := map[int64]bool{}
	for _, s := range ruleSeqs {
		isRule[s] = true
	}
	included := map[int64]bool{}
	for i := range events {
		included[events[i].Seq] = true
	}
	f := factsIn{region: region, period: period, ownOut: -1}
	rec := &Record{Contributions: []Contribution{}, Deemed: []Deemed{}, Enrolments: []Enrolment{}, TransferredMonths: []TransferredMonth{}, Months: []Months{}}
	registered := false
	for i := range events {
		e := &events[i]
		if old, ok := e.SupersededSeq(); ok && included[old] {
			return nil, fmt.Errorf("event %d supersedes event %d, which is also included", e.Seq, old)
		}
		if isRule[e.Seq] {
			if e.Type != record.TypeRuleSetAdopted {
				return nil, fmt.Errorf("event %d is listed as a rule set but is a %s", e.Seq, e.Type)
			}
			var rs record.RuleSetAdopted
			if err := json.Unmarshal(e.Data, &rs); err != nil {
				return nil, fmt.Errorf("event %d: %w", e.Seq, err)
			}
			set, err := rules.ParseSet([]byte(rs.Body))
			if err != nil {
				return nil, fmt.Errorf("rule set of event %d: %w", e.Seq, err)
			}
			if err := book.Add(set); err != nil {
				return nil, fmt.Errorf("rule set of event %d: %w", e.Seq, err)
			}
			continue
		}
		if e.Type == record.TypeMaintenanceLogged {
			var m record.MaintenanceLogged
			if err := json.Unmarshal(e.Data, &m); err != nil || m.Person != key {
				return nil, fmt.Errorf("event %d is a maintenance log entry of another person", e.Seq)
			}
			continue
		}
		if e.Person != key {
			return nil, fmt.Errorf("event %d (%s) is not about person %s", e.Seq, e.Type, key)
		}
		fact := record.NewFact(e.Type)
		if fact == nil {
			return nil, fmt.Errorf("event %d has the unknown type %q", e.Seq, e.Type)
		}
		if err := json.Unmarshal(e.Data, fact); err != nil {
			return nil, fmt.Errorf("event %d (%s): %w", e.Seq, e.Type, err)
		}
		switch x := fact.(type) {
		case *record.PersonRegistered:
			// The key is the keyed hash of the number first registered, or one derived from it when a person
			// who gave that number up holds it; the envelope's person (checked above) is the key either way.
			if registered {
				return nil, fmt.Errorf("event %d registers the person twice", e.Seq)
			}
			registered = true
			rec.Person = Person{Birth: x.Birth, Key: key, Name: x.Name, Region: x.Region, RegisteredOn: x.RegisteredOn, Sex: x.Sex}
		case *record.PersonChanged:
			if x.Name != "" {
				rec.Person.Name = x.Name
			}
			if x.Birth != "" { // a corrected ID number's date of birth and sex
				rec.Person.Birth, rec.Person.Sex = x.Birth, x.Sex
			}
		case *record.EnrolmentStarted:
			rec.Enrolments = append(rec.Enrolments, Enrolment{Employer: x.Employer, From: x.From, Seq: e.Seq, Type: x.Type})
		case *record.EnrolmentStopped:
			for j := range rec.Enrolments {
				en := &rec.Enrolments[j]
				if en.To == "" && en.Type == x.Type && en.Employer == x.Employer {
					en.To, en.StopSeq = x.To, e.Seq
				}
			}
		case *record.ContributionPosted:
			f.contributions = append(f.contributions, contributionIn{seq: e.Seq, employer: x.Employer,
				c: rules.Contribution{Type: x.Type, Period: x.Period, Wage: record.Fen(x.Wage), Region: e.Region, Status: x.Status, LateDays: x.LateDays}})
		case *record.DeemedRecorded:
			f.deemed = append(f.deemed, rules.FromDeemed(x))
			rec.Deemed = append(rec.Deemed, Deemed{Basis: x.Basis, From: x.From, Seq: e.Seq, To: x.To})
		case *record.AccountTransferred:
			if e.Seq == out.Account {
				f.ownOut = len(f.transfers)
			}
			f.transfers = append(f.transfers, rules.FromTransferred(x))
		case *record.TransferredIn:
			for _, m := range x.Months {
				f.transferred = append(f.transferred, rules.TransferredMonth{Type: m.Type, Period: m.Period, Base: record.Fen(m.Base), IndexWage: record.Fen(m.IndexWage)})
				rec.TransferredMonths = append(rec.TransferredMonths, TransferredMonth{Base: record.Fen(m.Base), IndexWage: record.Fen(m.IndexWage),
					Origin: x.Origin, Period: m.Period, Seq: e.Seq, Type: m.Type})
			}
		}
	}
	if !registered {
		return nil, fmt.Errorf("the person's registration is not among the events")
	}
	if f.ownOut < 0 {
		return nil, fmt.Errorf("the account transfer out (event %d) is not among the events", out.Account)
	}
	fig, err := compute(book, &f)
	if err != nil {
		return nil, err
	}
	for i, c := range f.contributions {
		d := fig.derived[i]
		rec.Contributions = append(rec.Contributions, Contribution{AccountCredit: d.Credit, Base: d.Base, Employer: c.employer, IndexWage: fig.indexWages[i],
			Individual: d.Individual, LateDays: c.c.LateDays, Period: c.c.Period, Seq: c.seq, Status: c.c.Status, Type: c.c.Type, Wage: c.c.Wage})
	}
	sort.SliceStable(rec.Contributions, func(i, j int) bool {
		a, b := rec.Contributions[i], rec.Contributions[j]
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		return a.Seq < b.Seq
	})
	rec.Months, rec.Index, rec.Account, rec.Amounts = fig.months, fig.index, Account{Balance: fig.account, Years: fig.years}, fig.amounts
	return rec, nil
}

// factsIn are a person's facts as the figures need them.
type factsIn struct {
	region        string
	period        record.Period // the month of transfer
	contributions []contributionIn
	deemed        []rules.Span
	transfers     []rules.Transfer
	ownOut        int // the index in transfers of this transfer's account transfer out
	transferred   []rules.TransferredMonth
}

type contributionIn struct {
	seq      int64
	employer string
	c        rules.Contribution
}

func (f *factsIn) personFacts(withOwn bool) rules.PersonFacts {
	in := rules.PersonFacts{Deemed: f.deemed, Transferred: f.transferred}
	for _, c := range f.contributions {
		in.Contributions = append(in.Contributions, c.c)
	}
	for i, t := range f.transfers {
		if i != f.ownOut || withOwn {
			in.Transfers = append(in.Transfers, t)
		}
	}
	return in
}

// figures are what the rules make of a person's facts at transfer.
type figures struct {
	derived    []rules.ContributionDerived // per contribution of the facts
	indexWages []record.Fen                // per contribution: the average wage a paid pension month is indexed against
	months     []Months
	index      Index
	years      []AccountYear
	account    record.Fen
	amounts    Amounts
}

// compute derives a person's figures at transfer: the record with the transfer's account transfer out, and the
// amount that transfer moves (the balance at the end of the month of transfer, interest included).
func compute(book *rules.Book, f *factsIn) (*figures, error) {
	in := f.personFacts(true)
	with, err := rules.DerivePerson(book, f.region, in, 0)
	if err != nil {
		return nil, err
	}
	without, err := rules.DerivePerson(book, f.region, f.personFacts(false), 0)
	if err != nil {
		return nil, err
	}
	fig := &figures{derived: with.Contributions, months: []Months{}, years: []AccountYear{}}
	fig.account = rules.AccountTransferOut(with.Years, without.Years, f.period)
	pooled := rules.PooledFundFor(in, &with, book.At(f.region, f.period).Rounding())
	fig.amounts = Amounts{Account: fig.account, PooledBases: pooled.Bases, PooledFund: pooled.Amount, PooledMonths: pooled.Months}
	for _, c := range in.Contributions {
		var w record.Fen
		if c.Type == record.Pension && (c.Status == "" || c.Status == record.StatusPaid) {
			reg := c.Region
			if reg == "" {
				reg = f.region
			}
			w, _ = book.At(reg, c.Period).IndexWage(c.Period.Year())
		}
		fig.indexWages = append(fig.indexWages, w)
	}
	for _, t := range record.InsuranceTypes {
		m := Months{Type: t, Paid: with.Months.Paid.Of(t), Deemed: with.Months.Deemed.Of(t), Total: with.Months.Total(t)}
		if m.Total == 0 {
			continue
		}
		m.Years = rules.FormatRat(big.NewRat(int64(m.Total), 12), 2)
		fig.months = append(fig.months, m)
	}
	if with.Index != nil {
		fig.index = Index{Decimal: rules.FormatRat(with.Index, 4), Exact: with.Index.RatString()}
	}
	for _, y := range with.Years {
		fig.years = append(fig.years, AccountYear{Closing: y.Closing, Credits: y.Credits, Interest: y.Interest, Opening: y.Opening,
			Provisional: y.Provisional, Rate: y.Rate.String(), TransfersIn: y.TransfersIn, TransfersOut: y.TransfersOut, Year: y.Year})
	}
	return fig, nil
}

// paidMonths are the months a package's record carries as paid: each (type, month) once, with the higher base
// where a month was paid twice — what the destination records as transferred months.
func paidMonths(r *Record) []record.TransferredMonth {
	type key struct {
		t string
		p record.Period
	}
	best := map[key]record.TransferredMonth{}
	keep := func(t string, p record.Period, base, wage record.Fen) {
		k := key{t, p}
		if cur, ok := best[k]; !ok || int64(base) > cur.Base {
			best[k] = record.TransferredMonth{Base: int64(base), IndexWage: int64(wage), Period: p, Type: t}
		}
	}
	for _, c := range r.Contributions {
		if c.Status == "" || c.Status == record.StatusPaid {
			keep(c.Type, c.Period, c.Base, c.IndexWage)
		}
	}
	for _, m := range r.TransferredMonths {
		keep(m.Type, m.Period, m.Base, m.IndexWage)
	}
	out := make([]record.TransferredMonth, 0, len(best))
	for _, m := range best {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Period < out[j].Period
	})
	return out
}
