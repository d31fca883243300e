package review

import (
	"context"
	"fmt"
	"time"

	"sirec/internal/record"
	"sirec/internal/store"
)

// Business types made by a procedure rather than typed in at intake. A transfer out (转出) is requested through
// the transfer procedure and its approval builds and signs the transfer package in the approving transaction;
// a transfer in (转入) is made from a package that arrived and passed every check. Neither is submitted through
// the ordinary intake, and their facts are not edited on resubmission.
const (
	KindTransferOut = "transfer_out"
	KindTransferIn  = "transfer_in"
)

// procedureKinds are the business types that need a registered Procedure.
var procedureKinds = map[string]bool{KindTransferOut: true, KindTransferIn: true}

// Procedure is what a procedure adds to the review of its drafts. Every hook is optional; each is given the
// store the draft belongs to.
type Procedure struct {
	// Facts returns the facts to record at the final approval in place of the draft's own, built at that
	// moment: amounts the rules compute from the record as it stands then.
	Facts func(ctx context.Context, st *store.Store, d Draft, now time.Time) ([]record.Fact, error)
	// Approved runs in the approving transaction after the facts are appended; an error records nothing.
	Approved func(ctx context.Context, st *store.Store, tx store.Tx, d Draft, rc store.Receipt, approver string, now time.Time) error
	// Rejected runs in the transaction of a rejection. When it reports close, the draft is closed (withdrawn)
	// rather than returned: there is nothing its maker could correct.
	Rejected func(ctx context.Context, st *store.Store, tx store.Tx, d Draft, actor, reason string, now time.Time) (close bool, err error)
	// Withdrawn runs in the transaction that withdraws the draft.
	Withdrawn func(ctx context.Context, st *store.Store, tx store.Tx, d Draft, actor, reason string, now time.Time) error
}

var procedures = map[string]Procedure{}

// RegisterProcedure registers the procedure of a business type. Call it from an init function.
func RegisterProcedure(kind string, p Procedure) {
	if !procedureKinds[kind] {
		panic("review: " + kind + " is not a procedure's business type")
	}
	procedures[kind] = p
}

// procedureOf returns the procedure of a kind and whether the kind has one; a procedure's kind whose procedure
// is not registered (a binary without it) is an error, so that its drafts are never approved half-way.
func procedureOf(kind string) (Procedure, bool, error) {
	if !procedureKinds[kind] {
		return Procedure{}, false, nil
	}
	p, ok := procedures[kind]
	if !ok {
		return Procedure{}, true, fmt.Errorf("no procedure is registered for %s drafts", kind)
	}
	return p, true, nil
}

// SubmitByProcedure makes a draft of a procedure's business type. also, when not nil, runs in the same
// transaction with the new draft's id, so that the procedure's own record of it is written with it or not at all.
func (s *Service) SubmitByProcedure(ctx context.Context, actor Actor, sub Submission, also func(ctx context.Context, tx store.Tx, id int64) error) (Draft, error) {
	if !procedureKinds[sub.Kind] {
		return Draft{}, record.Invalid("kind", "kind_by_procedure", "%q is not a procedure's business type", sub.Kind)
	}
	return s.submit(ctx, actor, sub, true, also)
}

// closeDraft closes a draft its procedure refused on rejection: it is withdrawn, not returned to its maker.
func closeDraft(ctx context.Context, tx store.Tx, id int64, now time.Time) error {
	_, err := tx.Exec(ctx, "UPDATE review_drafts SET status = $1, updated_at = $2 WHERE id = $3", StatusWithdrawn, now.UnixMilli(), id)
	return err
}
