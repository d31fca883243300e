package workitem

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
)

// reviewPosts are the posts that may decide a proposed dismissal: the review stages' posts.
var reviewPosts = []string{"initial_reviewer", "reviewer", "rechecker", "approver"}

func holds(a review.Actor, post string) bool { return slices.Contains(a.Posts, post) }

func needMaintainer(a review.Actor, what string) error {
	if !holds(a, review.MaintainerPost) {
		return record.Errorf(record.EForbidden, "%s needs the maintainer post (数据维护)", what)
	}
	return nil
}

func validReason(field, reason string) error {
	r := strings.TrimSpace(reason)
	switch {
	case r == "":
		return record.Invalid(field, "reason_required", "say why, for the record")
	case utf8.RuneCountInString(r) > 1000:
		return record.Invalid(field, "max_length", "a reason has at most 1000 characters")
	}
	return nil
}

// Assign gives an open item to a maintainer: an enabled user holding the maintainer post. Maintainers assign
// (their own post's work); an outside helper does not.
func (s *Service) Assign(ctx context.Context, actor review.Actor, id int64, assignee string) (Item, error) {
	if err := needMaintainer(actor, "assigning work items"); err != nil {
		return Item{}, err
	}
	if actor.External {
		return Item{}, record.Errorf(record.EForbidden, "an outside helper does not assign work (R11.2)")
	}
	u, err := s.users.GetUser(ctx, assignee)
	if err != nil {
		return Item{}, record.WithField("assignee", err)
	}
	switch {
	case u.Disabled:
		return Item{}, record.Invalid("assignee", "assignee_enabled", "user %s is disabled", assignee)
	case !slices.Contains(u.Posts, auth.PostMaintainer):
		return Item{}, record.Invalid("assignee", "assignee_maintainer", "user %s does not hold the maintainer post (数据维护)", assignee)
	}
	now := s.now()
	err = s.write(ctx, func(tx store.Tx) error {
		it, err := getItem(ctx, tx, id)
		if err != nil {
			return err
		}
		if it.Status == StatusClosed {
			return record.Errorf(record.EConflict, "work item %s is closed", it.Number)
		}
		if it.Assignee == assignee {
			return record.Errorf(record.EConflict, "work item %s is assigned to %s already", it.Number, assignee)
		}
		if _, err := tx.Exec(ctx, "UPDATE work_items SET assignee = $1, updated_at = $2 WHERE id = $3", assignee, ms(now), id); err != nil {
			return err
		}
		detail := "to " + assignee
		if it.Assignee != "" {
			detail = "from " + it.Assignee + " to " + assignee
		}
		return addAction(ctx, tx, id, now, actor.User, "assigned", detail)
	})
	if err != nil {
		return Item{}, err
	}
	return s.Get(ctx, id)
}

// Link makes a maintenance draft reference an open item: when that draft is approved through its review chain,
// the item is closed. The draft must be a maintenance draft still in review (or returned to its maker), and
// when the item concerns a person, the draft must concern that person too.
func (s *Service) Link(ctx context.Context, actor review.Actor, id, draftID int64) (Item, error) {
	if err := needMaintainer(actor, "linking a maintenance draft"); err != nil {
		return Item{}, err
	}
	d, err := s.rv.Get(ctx, draftID)
	if err != nil {
		return Item{}, record.WithField("draft", err)
	}
	switch {
	case d.Kind != review.Maintenance:
		return Item{}, record.Invalid("draft", "draft_maintenance", "draft %s is a %s draft; only a maintenance draft (数据维护) closes a work item", d.Number, d.Kind)
	case d.Status != review.StatusInReview && d.Status != review.StatusReturned:
		return Item{}, record.Invalid("draft", "draft_in_review", "draft %s is %s; link a maintenance draft that is still in review, so that its reviewers see the item", d.Number, d.Status)
	}
	it, err := s.Get(ctx, id)
	if err != nil {
		return Item{}, err
	}
	if it.Person != "" {
		persons, err := s.draftPersons(ctx, d)
		if err != nil {
			return Item{}, err
		}
		if !slices.Contains(persons, it.Person) {
			return Item{}, record.Invalid("draft", "draft_person", "draft %s does not concern the person of work item %s (%s)", d.Number, it.Number, it.MaskedID)
		}
	}
	now := s.now()
	err = s.write(ctx, func(tx store.Tx) error {
		it, err := getItem(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case it.Status == StatusClosed:
			return record.Errorf(record.EConflict, "work item %s is closed", it.Number)
		case it.Status == StatusDismissalProposed:
			return record.Errorf(record.EConflict, "a dismissal of work item %s waits for a decision; decide it first", it.Number)
		case it.draftID == draftID:
			return record.Errorf(record.EConflict, "work item %s is linked to %s already", it.Number, d.Number)
		case it.draftID != 0:
			var status string
			if err := tx.QueryRow(ctx, "SELECT status FROM review_drafts WHERE id = $1", it.draftID).Scan(&status); err != nil {
				return err
			}
			if status != review.StatusWithdrawn {
				return record.Errorf(record.EConflict, "work item %s is linked to draft %s, which is %s; only a withdrawn draft's link is replaced", it.Number, it.Draft, status)
			}
		}
		if _, err := tx.Exec(ctx, "UPDATE work_items SET draft_id = $1, updated_at = $2 WHERE id = $3", draftID, ms(now), id); err != nil {
			return err
		}
		return addAction(ctx, tx, id, now, actor.User, "linked", fmt.Sprintf("maintenance draft %s (made by %s): %s", d.Number, d.Maker, d.Reason))
	})
	if err != nil {
		return Item{}, err
	}
	return s.Get(ctx, id)
}

// draftPersons returns the person keys a draft's facts concern: by the ID numbers they name, and by the events
// they supersede.
func (s *Service) draftPersons(ctx context.Context, d review.Draft) ([]string, error) {
	var out []string
	for _, f := range d.Facts {
		if f.Supersedes != nil {
			e, _, err := s.st.Event(ctx, *f.Supersedes)
			if err == nil && e.Person != "" {
				out = append(out, e.Person)
			}
		}
		if f.IDNumber != "" {
			p, _, err := s.st.PersonKeyOf(ctx, f.IDNumber)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// ProposeDismissal proposes to close an open item without a correction, on grounds with a reason. A different
// person holding a review post decides it (DecideDismissal).
func (s *Service) ProposeDismissal(ctx context.Context, actor review.Actor, id int64, grounds, reason string) (Item, error) {
	if err := needMaintainer(actor, "proposing a dismissal"); err != nil {
		return Item{}, err
	}
	if !slices.Contains(Grounds, grounds) {
		return Item{}, record.Invalid("grounds", "dismissal_grounds", "grounds must be %s (the data is right as it is) or %s (a later run no longer finds it), not %q",
			GroundsNotAFault, GroundsResolvedByData, grounds)
	}
	if err := validReason("reason", reason); err != nil {
		return Item{}, err
	}
	now := s.now()
	if _, err := s.Sync(ctx); err != nil {
		return Item{}, err
	}
	err := s.write(ctx, func(tx store.Tx) error {
		it, err := getItem(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case it.Status == StatusClosed:
			return record.Errorf(record.EConflict, "work item %s is closed", it.Number)
		case it.Status == StatusDismissalProposed:
			return record.Errorf(record.EConflict, "a dismissal of work item %s waits for a decision already", it.Number)
		case grounds == GroundsResolvedByData && it.GoneSince.IsZero():
			return record.Invalid("grounds", "still_found", "the last run still finds the fault of work item %s; it is not resolved by data", it.Number)
		}
		if it.draftID != 0 {
			var status string
			if err := tx.QueryRow(ctx, "SELECT status FROM review_drafts WHERE id = $1", it.draftID).Scan(&status); err != nil {
				return err
			}
			if status == review.StatusInReview {
				return record.Errorf(record.EConflict, "maintenance draft %s for work item %s is in review; it closes the item when approved", it.Draft, it.Number)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE work_items SET status = $1, proposal_grounds = $2, proposal_reason = $3, proposed_by = $4, proposed_at = $5, updated_at = $5
			WHERE id = $6`, StatusDismissalProposed, grounds, strings.TrimSpace(reason), actor.User, ms(now), id); err != nil {
			return err
		}
		return addAction(ctx, tx, id, now, actor.User, "dismissal_proposed", grounds+": "+strings.TrimSpace(reason))
	})
	if err != nil {
		return Item{}, err
	}
	return s.Get(ctx, id)
}

// DecideDismissal approves or rejects a proposed dismissal. The decider holds a review post, is not an outside
// helper and is not the person who proposed it (one makes, another approves). Approval closes the item;
// rejection, which needs a reason, reopens it.
func (s *Service) DecideDismissal(ctx context.Context, actor review.Actor, id int64, decision, reason string) (Item, error) {
	switch {
	case decision != review.Approve && decision != review.Reject:
		return Item{}, record.Invalid("decision", "decision", "decision must be approve or reject")
	case actor.External:
		return Item{}, record.Errorf(record.EForbidden, "an outside helper cannot decide a dismissal (R11.2)")
	case !slices.ContainsFunc(reviewPosts, func(p string) bool { return holds(actor, p) }):
		return Item{}, record.Errorf(record.EForbidden, "deciding a dismissal needs a review post (初审, 审核, 复核 or 审批)")
	}
	if decision == review.Reject {
		if err := validReason("reason", reason); err != nil {
			return Item{}, err
		}
	}
	now := s.now()
	err := s.write(ctx, func(tx store.Tx) error {
		it, err := getItem(ctx, tx, id)
		if err != nil {
			return err
		}
		switch {
		case it.Status != StatusDismissalProposed:
			return record.Errorf(record.EConflict, "work item %s is %s; no dismissal waits for a decision", it.Number, it.Status)
		case it.Proposal.ProposedBy == actor.User:
			return record.Errorf(record.EForbidden, "%s proposed dismissing work item %s and cannot approve it (separation of duties)", actor.User, it.Number)
		}
		if decision == review.Reject {
			if _, err := tx.Exec(ctx, `UPDATE work_items SET status = $1, proposal_grounds = '', proposal_reason = '', proposed_by = '', proposed_at = 0, updated_at = $2
				WHERE id = $3 AND status = $4`, StatusOpen, ms(now), id, StatusDismissalProposed); err != nil {
				return err
			}
			return addAction(ctx, tx, id, now, actor.User, "dismissal_rejected", strings.TrimSpace(reason))
		}
		if it.Proposal.Grounds == GroundsResolvedByData && it.GoneSince.IsZero() {
			return record.Errorf(record.EConflict, "a run found the fault of work item %s again after the dismissal was proposed; reject the proposal", it.Number)
		}
		if _, err := tx.Exec(ctx, `UPDATE work_items SET status = $1, resolution = $2, closed_by = $3, closed_at = $4, updated_at = $4
			WHERE id = $5 AND status = $6`, StatusClosed, ResolvedByDismissal, actor.User, ms(now), id, StatusDismissalProposed); err != nil {
			return err
		}
		detail := it.Proposal.Grounds + ", proposed by " + it.Proposal.ProposedBy
		if r := strings.TrimSpace(reason); r != "" {
			detail += ": " + r
		}
		return addAction(ctx, tx, id, now, actor.User, "dismissal_approved", detail)
	})
	if err != nil {
		return Item{}, err
	}
	return s.Get(ctx, id)
}
