package institution

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// MaxRows is the most rows one submission may hold.
const MaxRows = 5000

// Submitted is the result of an accepted submission: what the first request was answered, and what every
// repeat of it (the same idempotency key and body) is answered again.
type Submitted struct {
	Number      string    `json:"number"` // S000012
	Institution string    `json:"institution"`
	Kind        string    `json:"kind"`
	Key         string    `json:"idempotency_key"`
	Draft       string    `json:"draft"` // the draft it became, for review
	Rows        int       `json:"rows"`
	FollowUps   int       `json:"followups,omitempty"` // bank: failed payments marked for follow-up
	SubmittedAt time.Time `json:"submitted_at"`
}

// SubmissionNumber formats a submission number: S000012.
func SubmissionNumber(id int64) string { return fmt.Sprintf("S%06d", id) }

// request is a submission's body.
type request struct {
	Rows []map[string]json.RawMessage `json:"rows"`
	Note string                       `json:"note,omitempty"`
}

// checkedRow is one row that passed every check, with the fact it becomes.
type checkedRow struct {
	id      string
	attrs   map[string]string
	payment *payment // bank: the recorded payment that failed
}

type payment struct {
	seq, amount, period  int64
	person, kind, masked string
	reason, reference    string
}

// ValidateKey checks an idempotency key: 1 to 128 printable ASCII characters.
func ValidateKey(key string) error {
	if key == "" {
		return record.Invalid("Idempotency-Key", "required", "send an Idempotency-Key header (a UUID, say): a repeat with the same key returns the first result")
	}
	if len(key) > 128 {
		return record.Invalid("Idempotency-Key", "idempotency_key", "an idempotency key has at most 128 characters")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return record.Invalid("Idempotency-Key", "idempotency_key", "an idempotency key is printable ASCII without spaces")
		}
	}
	return nil
}

// Submit takes in one submission of a kind from the institution whose machine account username is: it checks the
// institution may submit that kind under an agreement in force, then — unless the key was used before — every
// row, against the record too, and makes a draft for review in the same transaction that keeps the submission
// under its key. Every bad row is reported with its index, field and rule, and then nothing is kept. A repeat of
// an accepted submission (same key, same body) returns the first result, and replayed is true; the same key with
// another body is refused. A bank's failed payments are marked for follow-up, each as a work item.
func (s *Service) Submit(ctx context.Context, username, kind, key string, body []byte) (res Submitted, replayed bool, err error) {
	inst, err := s.ByUsername(ctx, username)
	if err != nil {
		return Submitted{}, false, err
	}
	k, err := KindOf("kind", kind)
	if err != nil {
		return Submitted{}, false, err
	}
	if inst.Kind != k.Name {
		return Submitted{}, false, record.Errorf(record.EForbidden, "%s is a %s (%s); it submits %s, not %s", inst.Name, inst.Kind, mustKind(inst.Kind).Chinese, mustKind(inst.Kind).Submits, k.Submits)
	}
	if today := s.today().Format("2006-01-02"); inst.AgreementUntil < today {
		return Submitted{}, false, record.Errorf(record.EForbidden, "the service agreement %s of %s ended on %s; submissions are refused until it is renewed", inst.Agreement, inst.Name, inst.AgreementUntil)
	}
	if err := ValidateKey(key); err != nil {
		return Submitted{}, false, err
	}
	sum := sha256.Sum256(append([]byte(kind+"\x00"), body...))
	hash := hex.EncodeToString(sum[:])
	if prev, ok, err := s.previous(ctx, inst.Code, key, hash); err != nil || ok {
		if ok {
			s.fileFollowUps(ctx, prev)
		}
		return prev, ok, err
	}

	rows, err := s.check(ctx, inst, k, body)
	if err != nil {
		return Submitted{}, false, err
	}
	facts := make([]review.DraftFact, len(rows))
	for i, r := range rows {
		data, _ := json.Marshal(record.OtherRecorded{Kind: factKind[k.Name], Attributes: r.attrs})
		facts[i] = review.DraftFact{Type: record.TypeOtherRecorded, IDNumber: r.id, Data: data}
	}
	now := s.now()
	actor := review.Actor{User: username, Posts: []string{"institution"}}
	summary := fmt.Sprintf("%s：%s 报送 %d 行（幂等键 %s）", k.Submits, inst.Name, len(rows), shorten(key, 40))
	_, err = s.rv.SubmitByProcedure(ctx, actor, review.Submission{Kind: k.DraftKind, Facts: facts, Summary: summary},
		func(ctx context.Context, tx store.Tx, draft int64) error {
			var id int64
			if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) + 1 FROM institution_submissions").Scan(&id); err != nil {
				return err
			}
			res = Submitted{Number: SubmissionNumber(id), Institution: inst.Code, Kind: k.Name, Key: key, Draft: review.DraftID(draft), Rows: len(rows),
				SubmittedAt: now}
			if k.Name == KindBank {
				var next int64
				if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(id), 0) FROM payment_followups").Scan(&next); err != nil {
					return err
				}
				for _, r := range rows {
					p := r.payment
					next++
					if _, err := tx.Exec(ctx, `INSERT INTO payment_followups (id, payment_seq, person, id_masked, kind, period, amount, bank, reference, reason, submission, created_at)
						VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, next, p.seq, p.person, p.masked, p.kind, p.period, p.amount, inst.Code,
						p.reference, p.reason, id, now.UnixMilli()); err != nil {
						return err
					}
					res.FollowUps++
				}
			}
			resp, err := json.Marshal(res)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO institution_submissions (id, institution, kind, idem_key, request_hash, draft_id, row_count, followups, submitted_by, created_at, response)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, id, inst.Code, k.Name, key, hash, draft, len(rows), res.FollowUps, username, now.UnixMilli(), string(resp))
			return err
		})
	if err != nil {
		// The same submission, made at the same moment by a retry, may have been kept first: answer as it was.
		if prev, ok, perr := s.previous(ctx, inst.Code, key, hash); perr == nil && ok {
			return prev, true, nil
		} else if perr != nil && record.ErrorCode(perr) != record.EInternal {
			return Submitted{}, false, perr
		}
		return Submitted{}, false, err
	}
	s.fileFollowUps(ctx, res)
	return res, false, nil
}

func mustKind(name string) Kind {
	k, _ := KindOf("kind", name)
	return k
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// factKind is the kind of the other.recorded fact each institution's rows become (R2.5).
var factKind = map[string]string{
	KindMedical:         "medical_settlement",
	KindPharmacy:        "pharmacy_settlement",
	KindRehabilitation:  "work_injury_rehabilitation",
	KindAssistiveDevice: "assistive_device_fitting",
	KindBank:            "benefit_payment_failed",
}

// previous returns the submission an institution made under key. ok is false when there is none; a submission
// under the key with another body is refused.
func (s *Service) previous(ctx context.Context, inst, key, hash string) (Submitted, bool, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Submitted{}, false, err
	}
	defer tx.Rollback(ctx)
	var was, resp string
	err = tx.QueryRow(ctx, "SELECT request_hash, response FROM institution_submissions WHERE institution = $1 AND idem_key = $2", inst, key).Scan(&was, &resp)
	if errors.Is(err, store.ErrNoRows) {
		return Submitted{}, false, nil
	}
	if err != nil {
		return Submitted{}, false, err
	}
	if was != hash {
		return Submitted{}, false, record.Invalid("Idempotency-Key", "idempotency_key_reused", "key %s was used for another submission; use a new key for new data", shorten(key, 40))
	}
	var res Submitted
	if err := json.Unmarshal([]byte(resp), &res); err != nil {
		return Submitted{}, false, err
	}
	return res, true, nil
}

// check reads a submission's body and checks every row: its fields, its person, and what the kind needs of the
// record. Every problem is reported ("rows[3].amount").
func (s *Service) check(ctx context.Context, inst Institution, k Kind, body []byte) ([]checkedRow, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req request
	if err := dec.Decode(&req); err != nil {
		return nil, record.Invalid("body", "json", "the body is not the expected JSON {\"rows\":[{…}, …]}: %v", err)
	}
	switch {
	case len(req.Rows) == 0:
		return nil, record.Invalid("rows", "required", "a submission has at least one row")
	case len(req.Rows) > MaxRows:
		return nil, record.Invalid("rows", "max_rows", "a submission has at most %d rows; split it", MaxRows)
	case len([]rune(req.Note)) > 500:
		return nil, record.Invalid("note", "text_length", "a note has at most 500 characters")
	}
	today := s.today()
	var errs record.Errors
	rows := make([]checkedRow, len(req.Rows))
	documents := map[string]int{}
	for i, raw := range req.Rows {
		at := fmt.Sprintf("rows[%d]", i)
		vals := map[string]string{}
		names := make([]string, 0, len(raw))
		for name := range raw {
			names = append(names, name)
		}
		sort.Strings(names)
		bad := false
		for _, name := range names {
			if !k.field(name) {
				errs.Append(at+"."+name, record.Invalid("", "unknown_field", "a %s row has no field %q", k.Name, name))
				bad = true
				continue
			}
			var v string
			if err := json.Unmarshal(raw[name], &v); err != nil {
				errs.Append(at+"."+name, record.Invalid("", "json_string", "every value is a JSON string (money as \"1396.82\")"))
				bad = true
				continue
			}
			vals[name] = strings.TrimSpace(v)
		}
		if bad {
			continue
		}
		r, rowErrs := checkRow(k, inst, vals, today)
		for _, e := range rowErrs {
			errs.Append(at, e)
		}
		if d := vals["document"]; d != "" {
			if j, dup := documents[d]; dup {
				errs.Append(at+".document", record.Invalid("", "document_unique", "document %s is also in rows[%d]", d, j))
			}
			documents[d] = i
		}
		rows[i] = r
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := s.checkRecord(ctx, k, rows); err != nil {
		return nil, err
	}
	return rows, nil
}

// checkRow checks one row's fields and returns its fact's attributes.
func checkRow(k Kind, inst Institution, v map[string]string, today time.Time) (checkedRow, record.Errors) {
	var errs record.Errors
	r := checkedRow{attrs: map[string]string{"institution": inst.Code, "institution_name": inst.Name}}
	for _, f := range k.Fields {
		if f.Required && v[f.Name] == "" {
			errs.Append(f.Name, record.Invalid("", "required", "%s is required", f.Name))
		}
	}
	if id := v["id_number"]; id != "" {
		if err := record.ValidateCitizenID("id_number", id, today); err != nil {
			errs.Append("", err)
		}
		r.id = id
	}
	date := func(name string) string {
		d := v[name]
		if d == "" {
			return ""
		}
		t, err := time.Parse("2006-01-02", d)
		switch {
		case err != nil:
			errs.Append(name, record.Invalid("", "date_format", "%q is not a date written YYYY-MM-DD", d))
		case t.Year() < 1950 || t.After(today):
			errs.Append(name, record.Invalid("", "date_range", "date %s is outside 1950-01-01 to today", d))
		default:
			r.attrs[name] = d
		}
		return d
	}
	yuan := func(name string, positive bool) (record.Fen, bool) {
		s := v[name]
		if s == "" {
			return 0, false
		}
		f, err := record.ParseYuan(name, s)
		switch {
		case err != nil:
			errs.Append("", err)
			return 0, false
		case positive && f <= 0:
			errs.Append(name, record.Invalid("", "amount_positive", "%s must be more than 0", name))
			return 0, false
		case f < 0:
			errs.Append(name, record.Invalid("", "amount_non_negative", "%s cannot be negative", name))
			return 0, false
		}
		r.attrs[name] = f.String()
		return f, true
	}
	txt := func(name string, max int) {
		if s := v[name]; s != "" {
			if err := text(name, s, max); err != nil {
				errs.Append("", err)
				return
			}
			r.attrs[name] = s
		}
	}
	txt("document", 64)
	switch k.Name {
	case KindMedical, KindPharmacy:
		date("settled_on")
		if k.Name == KindMedical {
			switch c := v["category"]; c {
			case "", "outpatient", "inpatient", "emergency":
				if c != "" {
					r.attrs["category"] = c
				}
			default:
				errs.Append("category", record.Invalid("", "settlement_category", "category %q is not one of outpatient, inpatient, emergency", c))
			}
		}
		total, ok1 := yuan("total", true)
		fund, ok2 := yuan("fund_paid", false)
		self, ok3 := yuan("self_paid", false)
		if ok1 && ok2 && ok3 && fund+self != total {
			errs.Append("total", record.Invalid("", "amounts_add_up", "fund_paid %s + self_paid %s is %s, not the total %s", fund, self, fund+self, total))
		}
	case KindRehabilitation, KindAssistiveDevice:
		if k.Name == KindRehabilitation {
			from, to := date("from"), date("to")
			if from != "" && to != "" && to < from {
				errs.Append("to", record.Invalid("", "date_order", "the last day (%s) is before the first (%s)", to, from))
			}
			txt("program", 100)
		} else {
			date("fitted_on")
			txt("device", 100)
		}
		cost, ok1 := yuan("cost", true)
		fund, ok2 := yuan("fund_paid", false)
		if ok1 && ok2 && fund > cost {
			errs.Append("fund_paid", record.Invalid("", "fund_within_cost", "fund_paid %s is more than the cost %s", fund, cost))
		}
	case KindBank:
		p := &payment{reason: v["reason"], reference: v["reference"], kind: v["kind"]}
		if s := v["period"]; s != "" {
			pd, err := record.ParsePeriod("period", s)
			if err != nil {
				errs.Append("", err)
			}
			p.period = int64(pd)
			r.attrs["period"] = s
		}
		if p.kind != "" && !slices.Contains(record.EligibilityKinds, p.kind) {
			errs.Append("kind", record.Invalid("", "benefit_kind", "kind %q is not one of %s", p.kind, strings.Join(record.EligibilityKinds, ", ")))
		}
		r.attrs["benefit_kind"] = p.kind
		if a, ok := yuan("amount", true); ok {
			p.amount = int64(a)
		}
		txt("reason", 200)
		txt("reference", 64)
		r.payment = p
	}
	return r, errs
}

// checkRecord checks the rows against the record: each person is registered; a work-injury service needs a
// work-injury eligibility; a failed payment must be a recorded one.
func (s *Service) checkRecord(ctx context.Context, k Kind, rows []checkedRow) error {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	persons := map[string]string{} // id index → person key
	var indexes []string
	for _, r := range rows {
		indexes = append(indexes, s.st.Keys().IndexID(r.id))
	}
	for lo := 0; lo < len(indexes); lo += 500 {
		chunk := indexes[lo:min(len(indexes), lo+500)]
		args := make([]any, len(chunk))
		ph := make([]string, len(chunk))
		for i, x := range chunk {
			args[i], ph[i] = x, fmt.Sprintf("$%d", i+1)
		}
		q, err := tx.Query(ctx, "SELECT id_index, person FROM persons WHERE id_index IN ("+strings.Join(ph, ", ")+")", args...)
		if err != nil {
			return err
		}
		for q.Next() {
			var idx, p string
			if err := q.Scan(&idx, &p); err != nil {
				q.Close()
				return err
			}
			persons[idx] = p
		}
		q.Close()
		if err := q.Err(); err != nil {
			return err
		}
	}
	var errs record.Errors
	used := map[int64]bool{}
	for i, r := range rows {
		at := fmt.Sprintf("rows[%d]", i)
		person, ok := persons[indexes[i]]
		if !ok {
			errs.Append(at+".id_number", record.Invalid("", "person_registered", "no registered person has ID number %s", record.MaskID(r.id)))
			continue
		}
		switch k.Name {
		case KindRehabilitation, KindAssistiveDevice:
			var n int64
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM eligibilities WHERE person = $1 AND kind = $2", person, "work_injury").Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				errs.Append(at+".id_number", record.Invalid("", "work_injury_eligibility", "%s has no work-injury eligibility (工伤认定) on record", record.MaskID(r.id)))
			}
		case KindBank:
			p := r.payment
			q, err := tx.Query(ctx, "SELECT seq FROM benefit_payments WHERE person = $1 AND period = $2 AND kind = $3 AND amount = $4 ORDER BY seq",
				person, p.period, p.kind, p.amount)
			if err != nil {
				return err
			}
			var seqs []int64
			for q.Next() {
				var seq int64
				if err := q.Scan(&seq); err != nil {
					q.Close()
					return err
				}
				seqs = append(seqs, seq)
			}
			q.Close()
			if err := q.Err(); err != nil {
				return err
			}
			i := slices.IndexFunc(seqs, func(seq int64) bool { return !used[seq] })
			switch {
			case len(seqs) == 0:
				errs.Append(at, record.Invalid("", "payment_recorded", "no %s benefit of %s for %d is recorded for %s", p.kind, record.Fen(p.amount), p.period, record.MaskID(r.id)))
				continue
			case i < 0:
				errs.Append(at, record.Invalid("", "payment_unique", "the %s benefit of %s for %d is reported twice", p.kind, record.Fen(p.amount), p.period))
				continue
			}
			used[seqs[i]] = true
			p.seq, p.person, p.masked = seqs[i], person, record.MaskID(r.id)
			r.attrs["payment_seq"] = strconv.FormatInt(p.seq, 10)
		}
	}
	return errs.Err()
}
