package institution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/workitem"
)

// FollowUpKind is the work-item kind of a failed payment a bank reported.
const FollowUpKind = "failed_payment"

// FollowUpSource is the work-item source of a bank's reports: "bank:" and its credit code.
func FollowUpSource(bank string) string { return "bank:" + bank }

// fileFollowUps files a submission's failed payments as work items: found again, an open item stays the one item
// of its payment. It is run after every accepted submission and again on every repeat of it, so that a failure
// to file is made good by the institution's retry; a failure is logged, never lost silently.
func (s *Service) fileFollowUps(ctx context.Context, sub Submitted) {
	if s.items == nil || sub.FollowUps == 0 {
		return
	}
	if err := s.fileFollowUpsErr(ctx, sub); err != nil {
		slog.Error("filing failed payments as work items", "submission", sub.Number, "err", err)
	}
}

func (s *Service) fileFollowUpsErr(ctx context.Context, sub Submitted) error {
	id, err := parseNumber(sub.Number)
	if err != nil {
		return err
	}
	list, err := s.followUps(ctx, "submission = $1", []any{id}, 0, MaxRows)
	if err != nil {
		return err
	}
	in := s.items.Begin(FollowUpSource(sub.Institution), nil, id, "submission:"+sub.Number)
	for _, f := range list {
		if err := in.Add(ctx, workitem.Finding{Kind: FollowUpKind, Key: fmt.Sprintf("seq:%d", f.PaymentSeq), Severity: "high", Person: f.Person,
			Period: f.Period, Seq: f.PaymentSeq,
			Detail: fmt.Sprintf("bank %s reports the %s benefit of %s for %s (event %d) failed: %s (reference %s, submission %s); pay again or correct the record",
				f.Bank, f.Kind, f.Amount, f.Period, f.PaymentSeq, f.Reason, f.Reference, sub.Number)}); err != nil {
			return err
		}
	}
	_, err = in.Finish(ctx)
	return err
}

func parseNumber(n string) (int64, error) {
	var id int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(strings.ToUpper(n), "S"), "%d", &id); err != nil || id <= 0 {
		return 0, record.Errorf(record.ENotFound, "%q is not a submission number such as S000012", n)
	}
	return id, nil
}

// ParseSubmissionNumber reads "S000012" or "12".
func ParseSubmissionNumber(n string) (int64, error) { return parseNumber(n) }

// FollowUp is a benefit payment a bank reported as failed, marked for follow-up.
type FollowUp struct {
	ID         int64         `json:"id"`
	PaymentSeq int64         `json:"payment_seq"` // the benefit.paid event
	Person     string        `json:"person"`
	IDMasked   string        `json:"id_masked"`
	Kind       string        `json:"kind"`
	Period     record.Period `json:"period"`
	Amount     record.Fen    `json:"amount"`
	Bank       string        `json:"bank"`
	Reference  string        `json:"reference"`
	Reason     string        `json:"reason"`
	Submission string        `json:"submission"`
	ReportedAt time.Time     `json:"reported_at"`
	// WorkItem and Status are the work item the follow-up is dealt with through, and its status: open until
	// closed by an approved maintenance draft or a reviewed dismissal.
	WorkItem string `json:"work_item,omitempty"`
	Status   string `json:"status"`
}

// followUps lists follow-ups, with the status of the work item of each (the latest item of its payment).
func (s *Service) followUps(ctx context.Context, cond string, args []any, offset, limit int) ([]FollowUp, error) {
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	n := len(args)
	rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT f.id, f.payment_seq, f.person, f.id_masked, f.kind, f.period, f.amount, f.bank, f.reference, f.reason,
			f.submission, f.created_at,
			COALESCE((SELECT w.id FROM work_items w WHERE w.source = 'bank:' || f.bank AND w.kind = '%s' AND w.seq = f.payment_seq ORDER BY w.id DESC LIMIT 1), 0),
			COALESCE((SELECT w.status FROM work_items w WHERE w.source = 'bank:' || f.bank AND w.kind = '%s' AND w.seq = f.payment_seq ORDER BY w.id DESC LIMIT 1), '')
		FROM payment_followups f WHERE %s ORDER BY f.id DESC LIMIT $%d OFFSET $%d`, FollowUpKind, FollowUpKind, cond, n+1, n+2), append(args, limit, offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []FollowUp{}
	for rows.Next() {
		var f FollowUp
		var period, amount, sub, at, item int64
		if err := rows.Scan(&f.ID, &f.PaymentSeq, &f.Person, &f.IDMasked, &f.Kind, &period, &amount, &f.Bank, &f.Reference, &f.Reason, &sub, &at, &item, &f.Status); err != nil {
			return nil, err
		}
		f.Period, f.Amount, f.Submission, f.ReportedAt = record.Period(period), record.Fen(amount), SubmissionNumber(sub), time.UnixMilli(at).UTC()
		if item != 0 {
			f.WorkItem = workitem.Number(item)
		}
		if f.Status == "" {
			f.Status = workitem.StatusOpen // not yet filed: still to be dealt with
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// FollowUps lists the failed payments marked for follow-up, newest first; open selects those whose work item is
// not closed, and total counts what is selected.
func (s *Service) FollowUps(ctx context.Context, open bool, offset, limit int) ([]FollowUp, int64, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 1000 and offset 0 or more")
	}
	cond := "1 = 1"
	if open {
		cond = fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM work_items w WHERE w.source = 'bank:' || f.bank AND w.kind = '%s' AND w.seq = f.payment_seq AND w.status = '%s'
			AND NOT EXISTS (SELECT 1 FROM work_items v WHERE v.source = w.source AND v.kind = w.kind AND v.seq = w.seq AND v.id > w.id))`, FollowUpKind, workitem.StatusClosed)
	}
	list, err := s.followUps(ctx, cond, nil, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(ctx)
	var total int64
	err = tx.QueryRow(ctx, "SELECT COUNT(*) FROM payment_followups f WHERE "+cond).Scan(&total)
	return list, total, err
}

// Submission is an accepted submission with the state of its draft.
type Submission struct {
	Submitted
	InstitutionName string `json:"institution_name"`
	SubmittedBy     string `json:"submitted_by"`
	// Status is the draft's: in_review, approved (recorded), or withdrawn (rejected by the agency, or withdrawn).
	Status string `json:"status"`
	Stage  string `json:"stage,omitempty"`
	// Reason is the reason the agency gave when it rejected the submission.
	Reason string `json:"reason,omitempty"`
}

// SubmissionFilter selects submissions; empty fields select everything.
type SubmissionFilter struct {
	Institution string
	Kind        string
}

const subColumns = `s.id, s.institution, i.name, s.kind, s.idem_key, s.draft_id, s.row_count, s.followups, s.submitted_by, s.created_at`

// Submissions lists accepted submissions, newest first: one page and how many f selects.
func (s *Service) Submissions(ctx context.Context, f SubmissionFilter, offset, limit int) ([]Submission, int64, error) {
	if offset < 0 || limit < 1 || limit > 1000 {
		return nil, 0, record.Invalid("limit", "page_limit", "limit must be 1 to 1000 and offset 0 or more")
	}
	var where []string
	var args []any
	if f.Institution != "" {
		args = append(args, f.Institution)
		where = append(where, fmt.Sprintf("s.institution = $%d", len(args)))
	}
	if f.Kind != "" {
		if _, err := KindOf("kind", f.Kind); err != nil {
			return nil, 0, err
		}
		args = append(args, f.Kind)
		where = append(where, fmt.Sprintf("s.kind = $%d", len(args)))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return nil, 0, err
	}
	var total int64
	if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM institution_submissions s"+cond, args...).Scan(&total); err != nil {
		tx.Rollback(ctx)
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, fmt.Sprintf("SELECT %s FROM institution_submissions s JOIN institutions i ON i.code = s.institution%s ORDER BY s.id DESC LIMIT $%d OFFSET $%d",
		subColumns, cond, len(args)+1, len(args)+2), append(args, limit, offset)...)
	if err != nil {
		tx.Rollback(ctx)
		return nil, 0, err
	}
	var out []Submission
	for rows.Next() {
		sub, err := scanSubmission(rows)
		if err != nil {
			rows.Close()
			tx.Rollback(ctx)
			return nil, 0, err
		}
		out = append(out, sub)
	}
	rows.Close()
	tx.Rollback(ctx)
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	for i := range out {
		if err := s.withDraft(ctx, &out[i]); err != nil {
			return nil, 0, err
		}
	}
	if out == nil {
		out = []Submission{}
	}
	return out, total, nil
}

func scanSubmission(r store.Row) (Submission, error) {
	var sub Submission
	var id, draft, at int64
	err := r.Scan(&id, &sub.Institution, &sub.InstitutionName, &sub.Kind, &sub.Key, &draft, &sub.Rows, &sub.FollowUps, &sub.SubmittedBy, &at)
	sub.Number, sub.Draft, sub.SubmittedAt = SubmissionNumber(id), review.DraftID(draft), time.UnixMilli(at).UTC()
	return sub, err
}

// withDraft fills in the state of a submission's draft.
func (s *Service) withDraft(ctx context.Context, sub *Submission) error {
	var id int64
	fmt.Sscanf(strings.TrimPrefix(sub.Draft, "D"), "%d", &id)
	d, err := s.rv.Get(ctx, id)
	if err != nil {
		return err
	}
	sub.Status, sub.Stage = d.Status, d.Stage
	for _, a := range d.Actions {
		if a.Decision == review.Reject {
			sub.Reason = a.Reason
		}
	}
	return nil
}

// GetSubmission returns one submission. An institution (institution not "") sees only its own: another's is
// not found for it.
func (s *Service) GetSubmission(ctx context.Context, number, institution string) (Submission, error) {
	id, err := parseNumber(number)
	if err != nil {
		return Submission{}, err
	}
	tx, err := s.st.Driver().Begin(ctx, false)
	if err != nil {
		return Submission{}, err
	}
	sub, err := scanSubmission(tx.QueryRow(ctx, "SELECT "+subColumns+" FROM institution_submissions s JOIN institutions i ON i.code = s.institution WHERE s.id = $1", id))
	tx.Rollback(ctx)
	if errors.Is(err, store.ErrNoRows) || (err == nil && institution != "" && sub.Institution != institution) {
		return Submission{}, record.Errorf(record.ENotFound, "submission %s does not exist", SubmissionNumber(id))
	}
	if err != nil {
		return Submission{}, err
	}
	return sub, s.withDraft(ctx, &sub)
}
