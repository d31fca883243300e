package web

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
)

// --- maintenance drafts (数据维护, R11.1) ---
//
// A maintenance draft corrects a recorded event (it names the event it supersedes) or supplements the record,
// and states why (维护原因) and how it is handled (处理方式). Its form is in two steps: first the event to
// correct — whose type and data then fill the form — or the type of fact to add; then the fact's own form,
// the same as intake's, with the reason and method.

// maintenancePurpose is the purpose logged when a maintenance form shows a person's recorded data (Q7).
const maintenancePurpose = "business"

func (s *server) maintenancePage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !p.Has(auth.PostMaintainer) {
		s.fail(w, r, "console", http.StatusForbidden, "err.forbidden")
		return
	}
	v := s.staffView(w, r, p, "kind."+review.Maintenance)
	q := r.URL.Query()
	factType, sup := strings.TrimSpace(q.Get("fact_type")), strings.TrimSpace(q.Get("supersedes"))
	v.Form["fact_type"], v.Form["supersedes"] = factType, sup
	d := intakeData{Kind: review.Maintenance, Action: "/console/intake/maintenance", Maintenance: true, FactTypes: review.Kinds[review.Maintenance].Types}
	choose := func(status int) {
		d.Choose = true
		s.renderIntake(w, r, status, v, d)
	}
	if factType == "" && sup == "" {
		choose(http.StatusOK)
		return
	}
	if factType != "" && !slices.Contains(d.FactTypes, factType) {
		v.Errors["fact_type"] = v.T("maint.fact_type_unknown")
		choose(http.StatusUnprocessableEntity)
		return
	}
	if sup != "" {
		seq, err := strconv.ParseInt(sup, 10, 64)
		if err != nil || seq < 0 {
			v.Errors["supersedes"] = v.T("maint.event_number")
			choose(http.StatusUnprocessableEntity)
			return
		}
		df, err := s.eventFact(r.Context(), p, seq)
		switch record.ErrorCode(err) {
		case record.ENotFound:
			v.Errors["supersedes"] = v.T("maint.event_not_found")
			choose(http.StatusUnprocessableEntity)
			return
		case record.EInvalid:
			showInvalid(v, err, func(string) string { return "supersedes" })
			choose(http.StatusUnprocessableEntity)
			return
		}
		if err != nil {
			s.failErr(w, r, "console", err)
			return
		}
		switch {
		case factType == "":
			factType = df.Type
		case factType != df.Type && factType != record.TypeEventVoided:
			// The correction would be refused at approval (rule same_type): say so now.
			v.Errors["fact_type"] = v.T("maint.same_type")
			choose(http.StatusUnprocessableEntity)
			return
		}
		if factType != record.TypeEventVoided {
			factValues(factForm(factType), df, v.Form)
		}
		v.Form["fact_type"] = factType
	}
	d.FactType, d.Form = factType, factForm(factType)
	s.renderIntake(w, r, http.StatusOK, v, d)
}

// eventFact reads a recorded event as a draft fact — with the person's ID number, so that a correction can
// name them — and logs the view of the person's data it is (Q7). An event maintenance cannot correct is
// refused.
func (s *server) eventFact(ctx context.Context, p *auth.Principal, seq int64) (review.DraftFact, error) {
	e, _, err := s.cfg.Store.Event(ctx, seq)
	if err != nil {
		return review.DraftFact{}, err
	}
	if !slices.Contains(review.Kinds[review.Maintenance].Types, e.Type) || e.Type == record.TypeEventVoided {
		return review.DraftFact{}, record.Invalid("", "supersedable_type", "event %d is a %s; maintenance does not correct it", seq, e.Type)
	}
	df := review.DraftFact{Type: e.Type, Data: e.Data}
	if e.Type == record.TypeEmployerChanged {
		df.CreditCode = e.Employer
	}
	if e.Person != "" {
		if df.IDNumber, err = s.cfg.Store.PersonIDNumber(ctx, e.Person); err != nil {
			return review.DraftFact{}, err
		}
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: e.Person, Page: "console/maintenance", Fields: "event " + strconv.FormatInt(seq, 10), Purpose: maintenancePurpose}); err != nil {
			return review.DraftFact{}, err
		}
	}
	return df, nil
}

// maintenanceFact builds the maintenance draft's fact from the form: its type, the event it supersedes (if any)
// and the fact's fields.
func (s *server) maintenanceFact(r *http.Request, v *view) (*intakeForm, review.DraftFact, error) {
	factType := strings.TrimSpace(r.PostFormValue("fact_type"))
	v.Form["fact_type"] = factType
	f := factForm(factType)
	if f == nil || !slices.Contains(review.Kinds[review.Maintenance].Types, factType) {
		return nil, review.DraftFact{}, record.Invalid("fact_type", "kind_fact_type", "choose the kind of fact to correct or add")
	}
	df, err := s.buildFact(r, v, f)
	var errs record.Errors
	if !appendInvalid(&errs, err) {
		return f, df, err
	}
	sup := strings.TrimSpace(r.PostFormValue("supersedes"))
	v.Form["supersedes"] = sup
	if sup != "" {
		seq, perr := strconv.ParseInt(sup, 10, 64)
		if perr != nil || seq < 0 {
			errs.Append("", record.Invalid("supersedes", "supersedes_seq", "the event to correct is named by its number (0 or more)"))
		} else {
			df.Supersedes = &seq
		}
	} else if factType == record.TypeEventVoided {
		errs.Append("", record.Invalid("supersedes", "void_names_event", "a void must name the event it withdraws"))
	}
	return f, df, errs.Err()
}

func (s *server) maintenanceSubmit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !p.Has(auth.PostMaintainer) {
		s.fail(w, r, "console", http.StatusForbidden, "err.forbidden")
		return
	}
	v := s.staffView(w, r, p, "kind."+review.Maintenance)
	v.Form["maint_reason"] = strings.TrimSpace(r.PostFormValue("maint_reason"))
	v.Form["maint_method"] = strings.TrimSpace(r.PostFormValue("maint_method"))
	d := intakeData{Kind: review.Maintenance, Action: "/console/intake/maintenance", Maintenance: true, FactTypes: review.Kinds[review.Maintenance].Types}
	f, df, err := s.maintenanceFact(r, v)
	if f == nil {
		d.Choose = true
		s.intakeInvalid(w, r, v, d, err, nil)
		return
	}
	d.Form, d.FactType = f, f.Fact
	if s.intakeInvalid(w, r, v, d, s.validate(r.Context(), review.Maintenance, []review.DraftFact{df}, f, err), f) {
		return
	}
	mats, err := s.materials(r.Context(), r)
	if err != nil {
		s.intakeInvalid(w, r, v, d, err, f)
		return
	}
	dr, err := s.cfg.Review.Submit(r.Context(), actorOf(p), review.Submission{Kind: review.Maintenance, Facts: []review.DraftFact{df},
		Materials: mats, Reason: v.Form["maint_reason"], Method: v.Form["maint_method"], Summary: summary(review.Maintenance, f, df, v.Form)})
	if s.intakeInvalid(w, r, v, d, err, f) {
		return
	}
	http.Redirect(w, r, "/console/drafts/"+dr.Number+"?n=submitted", http.StatusSeeOther)
}

// --- correcting a returned draft, withdrawing a draft ---

// editable returns the draft in the path when p is its maker and it is returned to them; otherwise it answers
// with the error page.
func (s *server) editable(w http.ResponseWriter, r *http.Request, p *auth.Principal) (review.Draft, bool) {
	d, ok := s.loadDraft(w, r)
	if !ok {
		return d, false
	}
	if d.Maker != p.Username {
		s.fail(w, r, "console", http.StatusForbidden, "err.maker_only")
		return d, false
	}
	if d.Status != review.StatusReturned {
		s.fail(w, r, "console", http.StatusConflict, "err.not_returned")
		return d, false
	}
	return d, true
}

// canEdit reports whether the console has a form for correcting the draft: a person registration, or one fact
// of a kind with an intake form (a draft made through the API may hold several).
func canEdit(d review.Draft) bool {
	switch {
	case d.Kind == "person_registration":
		return len(d.Facts) > 0 && d.Facts[0].Type == record.TypePersonRegistered
	case d.Kind == review.Maintenance:
		return len(d.Facts) == 1 && factForm(d.Facts[0].Type) != nil
	default:
		return len(d.Facts) == 1 && intakeForms[d.Kind] != nil
	}
}

// draftEdit shows a returned draft's facts in its intake form, to be corrected and resubmitted.
func (s *server) draftEdit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, ok := s.editable(w, r, p)
	if !ok {
		return
	}
	if !canEdit(d) {
		s.fail(w, r, "console", http.StatusNotFound, "err.no_edit_form")
		return
	}
	if err := s.logDraftView(r.Context(), p, d, "console/draft_edit"); err != nil {
		s.failErr(w, r, "console", err)
		return
	}
	v := s.staffView(w, r, p, "draft.edit_title")
	v.Notice = "draft.edit_hint"
	v.Form["reject_reason"] = lastReject(d)
	if d.Kind == "person_registration" {
		personValues(d.Facts, v.Form)
		v.Data = intakeData{Kind: d.Kind, Action: "/console/drafts/" + d.Number + "/edit", Edit: d.Number, Materials: d.Materials}
		s.render(w, r, http.StatusOK, "intake_person", v)
		return
	}
	data := intakeData{Kind: d.Kind, Action: "/console/drafts/" + d.Number + "/edit", Edit: d.Number, Materials: d.Materials, Chain: d.Chain}
	df := d.Facts[0]
	if d.Kind == review.Maintenance {
		data.Maintenance, data.FactType, data.Form = true, df.Type, factForm(df.Type)
		v.Form["fact_type"], v.Form["maint_reason"], v.Form["maint_method"] = df.Type, d.Reason, d.Method
		if df.Supersedes != nil {
			v.Form["supersedes"] = strconv.FormatInt(*df.Supersedes, 10)
		}
	} else {
		data.Form = intakeForms[d.Kind]
	}
	factValues(data.Form, df, v.Form)
	s.renderIntake(w, r, http.StatusOK, v, data)
}

// draftEditSubmit resubmits a returned draft with the corrected facts; the chain starts again (review).
func (s *server) draftEditSubmit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, ok := s.editable(w, r, p)
	if !ok {
		return
	}
	if !canEdit(d) {
		s.fail(w, r, "console", http.StatusNotFound, "err.no_edit_form")
		return
	}
	ctx := r.Context()
	v := s.staffView(w, r, p, "draft.edit_title")
	v.Form["reject_reason"] = lastReject(d)
	v.Form["note"] = strings.TrimSpace(r.PostFormValue("note"))
	action := "/console/drafts/" + d.Number + "/edit"
	if d.Kind == "person_registration" {
		v.Data = intakeData{Kind: d.Kind, Action: action, Edit: d.Number, Materials: d.Materials}
		facts, err := s.personFacts(ctx, r, v)
		var mats []review.Material
		if err == nil {
			mats, err = s.materials(ctx, r)
		}
		if err == nil {
			_, err = s.cfg.Review.Resubmit(ctx, actorOf(p), d.ID, review.Resubmission{Facts: facts, Materials: mats, Note: v.Form["note"]})
		}
		if err != nil {
			if !showInvalid(v, err, factField(personFields)) {
				s.failErr(w, r, "console", err)
				return
			}
			s.render(w, r, http.StatusUnprocessableEntity, "intake_person", v)
			return
		}
		http.Redirect(w, r, "/console/drafts/"+d.Number+"?n=resubmitted", http.StatusSeeOther)
		return
	}
	data := intakeData{Kind: d.Kind, Action: action, Edit: d.Number, Materials: d.Materials, Chain: d.Chain}
	var f *intakeForm
	var df review.DraftFact
	var err error
	if d.Kind == review.Maintenance {
		v.Form["maint_reason"], v.Form["maint_method"] = d.Reason, d.Method
		f, df, err = s.maintenanceFact(r, v)
		if f == nil {
			s.intakeInvalid(w, r, v, data, err, nil)
			return
		}
		data.Maintenance, data.FactType = true, f.Fact
	} else {
		f = intakeForms[d.Kind]
		df, err = s.buildFact(r, v, f)
	}
	data.Form = f
	if s.intakeInvalid(w, r, v, data, s.validate(ctx, d.Kind, []review.DraftFact{df}, f, err), f) {
		return
	}
	mats, err := s.materials(ctx, r)
	if s.intakeInvalid(w, r, v, data, err, f) {
		return
	}
	if _, err := s.cfg.Review.Resubmit(ctx, actorOf(p), d.ID, review.Resubmission{Facts: []review.DraftFact{df}, Materials: mats, Note: v.Form["note"]}); s.intakeInvalid(w, r, v, data, err, f) {
		return
	}
	http.Redirect(w, r, "/console/drafts/"+d.Number+"?n=resubmitted", http.StatusSeeOther)
}

// withdraw withdraws a draft that is not yet recorded, by its maker, with a reason and a ticked confirmation.
func (s *server) withdraw(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id, ok := s.pathDraft(w, r)
	if !ok {
		return
	}
	v := s.staffView(w, r, p, "draft.title")
	if r.PostFormValue("confirm") == "" {
		v.Errors["withdraw_confirm"] = v.T("draft.withdraw_confirm_required")
		s.showDraft(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	d, err := s.cfg.Review.Withdraw(r.Context(), actorOf(p), id, strings.TrimSpace(r.PostFormValue("withdraw_reason")))
	if err != nil {
		if !showInvalid(v, err, func(f string) string {
			if f == "reason" {
				return "withdraw_reason"
			}
			return ""
		}) {
			s.failErr(w, r, "console", err)
			return
		}
		s.showDraft(w, r, p, http.StatusUnprocessableEntity, v)
		return
	}
	http.Redirect(w, r, "/console/drafts/"+d.Number+"?n=withdrawn", http.StatusSeeOther)
}

// logDraftView logs each person a draft's facts name in clear, before a page shows them (Q7).
func (s *server) logDraftView(ctx context.Context, p *auth.Principal, d review.Draft, page string) error {
	logged := map[string]bool{}
	for i, f := range d.Facts {
		if i == maxFactsShown || f.IDNumber == "" || logged[f.IDNumber] {
			continue
		}
		logged[f.IDNumber] = true
		person, _, err := s.cfg.Store.PersonKeyOf(ctx, f.IDNumber) // not registered yet: the key a registration would give
		if err != nil {
			return err
		}
		if err := AppendQuery(ctx, s.cfg.Store.Driver(), QueryEntry{At: s.cfg.Now(), ActorKind: ActorStaff, Actor: p.Username,
			Person: person, Page: page, Fields: "draft facts " + d.Number, Purpose: "review"}); err != nil {
			return err
		}
	}
	return nil
}

// personValues fills the person registration form from a draft's facts.
func personValues(facts []review.DraftFact, into map[string]string) {
	for _, f := range facts {
		var data map[string]any
		json.Unmarshal(f.Data, &data)
		str := func(k string) string { s, _ := data[k].(string); return s }
		switch f.Type {
		case record.TypePersonRegistered:
			into["id_number"] = f.IDNumber
			for _, k := range []string{"name", "region", "registered_on", "phone"} {
				into[k] = str(k)
			}
		case record.TypeEnrolmentStarted:
			into["type_"+str("type")] = "on"
			into["employer"], into["enrol_from"] = str("employer"), str("from")
		}
	}
}
