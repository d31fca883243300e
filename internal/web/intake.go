package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
)

// The intake forms (采集) of the business types are described here as data — the fields of each kind, how each
// is shown and how its text becomes the fact's data — and served by one handler and one template (intake.html).
// The forms validate nothing themselves: a field's text is turned into the fact's JSON (a yuan amount into fen,
// a whole number into a number) and the fact is checked by record's own validation, the same that review
// applies on submission; its errors, which name the field and the rule, are shown beside that field. Only what
// a single fact cannot know is checked here: that the person or employer named is registered (or, for a
// registration, is not yet).
//
// A person registration (several facts: the registration and an enrolment per insurance type) and the monthly
// batch (a file) keep their own forms (console.go).

// fieldKind says how a field's text becomes the fact's data.
type fieldKind int

const (
	fieldText        fieldKind = iota // a string as typed
	fieldYuan                         // yuan with up to two decimals → integer fen
	fieldInt                          // a whole number
	fieldAttributes                   // "name=value" lines → an object of strings (other.recorded)
	fieldIDNumber                     // a citizen ID number: the draft fact's id_number, not its data
	fieldNewIDNumber                  // a corrected citizen ID number: the draft fact's new_id_number
	fieldCreditCode                   // the employer a fact is about: the draft fact's credit_code
	fieldEmployer                     // an employer named in the data (enrolment, contribution): must be registered
	fieldSupersedes                   // the event a maintenance fact corrects: the draft fact's supersedes
)

// intakeField is one field of an intake form.
type intakeField struct {
	Name    string    // the form field's name and id, and the fact's JSON field
	Kind    fieldKind // how the text becomes data
	Input   string    // the HTML input: "text" (default), "date", "textarea", "select"
	Label   string    // message key
	Hint    string    // message key of a hint under the field, "" for none
	Options []string  // a select's values; a leading "" is the "leave unchanged / none" choice
	// OptionLabel is the message key prefix of the options' labels (prefix + value); Empty labels "".
	OptionLabel, Empty string
	Optional           bool // left empty, it is left out of the fact (the label says so)
	Upper              bool // upper-cased: ID numbers and credit codes have one spelling
	Summary            bool // its value goes into the draft's summary line
	Default            func(s *server) string
	Wide               bool // a long text (textarea spans the form)
	File               bool // a file may be uploaded instead of typing (its text replaces the field's)
}

// intakeForm describes the form of one business type: one fact of one event type.
type intakeForm struct {
	Kind   string // the review kind (business type)
	Fact   string // the event type of its fact
	Fields []intakeField
	Fixed  map[string]any // data the form sets itself, e.g. the direction of a transfer in
	Intro  string         // message key of a line above the form, "" for none
	Group  string         // message key of the group the intake index lists it under
}

// Field shorthands.
func idField() intakeField {
	return intakeField{Name: "id_number", Kind: fieldIDNumber, Label: "f.id_number", Upper: true, Summary: true}
}

func creditField() intakeField {
	return intakeField{Name: "credit_code", Kind: fieldCreditCode, Label: "employer.credit_code", Upper: true, Summary: true}
}

func employerRefField() intakeField {
	return intakeField{Name: "employer", Kind: fieldEmployer, Label: "f.employer", Hint: "f.employer_hint", Optional: true, Upper: true}
}

func typeField() intakeField {
	return intakeField{Name: "type", Input: "select", Label: "f.type", Options: record.InsuranceTypes, OptionLabel: "type.", Summary: true}
}

func dateField(name, label string, optional bool) intakeField {
	f := intakeField{Name: name, Input: "date", Label: label, Optional: optional}
	if !optional {
		f.Default = today
	}
	return f
}

func periodField(name, label string) intakeField {
	return intakeField{Name: name, Label: label, Hint: "f.period_hint", Default: thisMonth, Summary: true}
}

func yuanField(name, label string) intakeField {
	return intakeField{Name: name, Kind: fieldYuan, Label: label, Hint: "f.yuan_hint", Summary: true}
}

func textArea(name, label string) intakeField {
	return intakeField{Name: name, Input: "textarea", Label: label, Wide: true}
}

func today(s *server) string     { return s.cfg.Now().In(s.cfg.Location).Format("2006-01-02") }
func thisMonth(s *server) string { return s.cfg.Now().In(s.cfg.Location).Format("200601") }
func ownRegion(s *server) string { return s.cfg.Store.Region() }

var industryClasses = []string{"1", "2", "3", "4", "5", "6", "7", "8"}

// intakeForms are the forms of the business types, by kind.
var intakeForms = map[string]*intakeForm{}

// intakeOrder is the order the intake index lists the kinds in.
var intakeOrder = []string{"person_registration", "person_change", "enrolment_start", "enrolment_stop",
	"employer_registration", "employer_change", "contribution", "contribution_batch", "subsidy",
	"eligibility", "benefit_payment", "deemed_period", "account_transfer_in", "other", "rule_set", review.Maintenance}

func init() {
	for _, f := range []*intakeForm{
		{Kind: "person_change", Fact: record.TypePersonChanged, Group: "intake.group.person", Intro: "intake.person_change.intro", Fields: []intakeField{
			idField(),
			{Name: "name", Label: "f.new_name", Optional: true},
			{Name: "phone", Label: "f.new_phone", Optional: true},
			{Name: "status", Input: "select", Label: "f.person_status", Options: []string{"", "active", "deceased"}, OptionLabel: "pstatus.", Empty: "f.unchanged", Optional: true, Summary: true},
			dateField("death_date", "f.death_date", true),
			textArea("reason", "f.change_reason"),
		}},
		{Kind: "enrolment_start", Fact: record.TypeEnrolmentStarted, Group: "intake.group.person", Fields: []intakeField{
			idField(), typeField(), employerRefField(), dateField("from", "f.enrol_from", false),
		}},
		{Kind: "enrolment_stop", Fact: record.TypeEnrolmentStopped, Group: "intake.group.person", Fields: []intakeField{
			idField(), typeField(), employerRefField(), dateField("to", "f.enrol_to", false), textArea("reason", "f.stop_reason"),
		}},
		{Kind: "employer_registration", Fact: record.TypeEmployerRegistered, Group: "intake.group.employer", Fields: []intakeField{
			creditField(),
			{Name: "name", Label: "employer.name", Summary: true},
			{Name: "industry_class", Kind: fieldInt, Input: "select", Label: "employer.industry_class", Options: append([]string{""}, industryClasses...), OptionLabel: "industry.", Empty: "search.choose"},
			{Name: "region", Label: "f.region", Default: ownRegion},
			dateField("registered_on", "f.registered_on", false),
		}},
		{Kind: "employer_change", Fact: record.TypeEmployerChanged, Group: "intake.group.employer", Intro: "intake.employer_change.intro", Fields: []intakeField{
			creditField(),
			{Name: "name", Label: "f.new_employer_name", Optional: true},
			{Name: "industry_class", Kind: fieldInt, Input: "select", Label: "employer.industry_class", Options: append([]string{""}, industryClasses...), OptionLabel: "industry.", Empty: "f.unchanged", Optional: true},
			{Name: "status", Input: "select", Label: "f.employer_status", Options: []string{"", "active", "deregistered"}, OptionLabel: "pstatus.", Empty: "f.unchanged", Optional: true, Summary: true},
			textArea("reason", "f.change_reason"),
		}},
		{Kind: "contribution", Fact: record.TypeContributionPosted, Group: "intake.group.contribution", Fields: []intakeField{
			idField(), periodField("period", "f.period"), typeField(), yuanField("wage", "f.wage"),
			{Name: "status", Input: "select", Label: "f.status", Options: []string{record.StatusPaid, record.StatusDue, record.StatusArrears}, OptionLabel: "cstatus.", Summary: true},
			employerRefField(),
			{Name: "late_days", Kind: fieldInt, Label: "f.late_days", Optional: true},
		}},
		{Kind: "subsidy", Fact: record.TypeSubsidyGranted, Group: "intake.group.contribution", Fields: []intakeField{
			idField(), typeField(), {Name: "kind", Label: "f.subsidy_kind", Hint: "f.subsidy_kind_hint", Summary: true},
			periodField("period", "f.period"), yuanField("amount", "f.amount"),
		}},
		{Kind: "eligibility", Fact: record.TypeEligibilityGranted, Group: "intake.group.benefit", Fields: []intakeField{
			idField(),
			{Name: "kind", Input: "select", Label: "f.eligibility_kind", Options: record.EligibilityKinds, OptionLabel: "benefit.", Summary: true},
			dateField("from", "f.eligible_from", false), dateField("to", "f.eligible_to", true),
			{Name: "decision", Label: "f.decision"},
		}},
		{Kind: "benefit_payment", Fact: record.TypeBenefitPaid, Group: "intake.group.benefit", Fields: []intakeField{
			idField(),
			{Name: "kind", Input: "select", Label: "person.benefit_kind", Options: record.EligibilityKinds, OptionLabel: "benefit.", Summary: true},
			periodField("period", "f.period"), yuanField("amount", "f.amount"),
		}},
		{Kind: "deemed_period", Fact: record.TypeDeemedRecorded, Group: "intake.group.account", Fields: []intakeField{
			idField(), periodField("from", "f.deemed_from"), periodField("to", "f.deemed_to"), textArea("basis", "f.basis"),
		}},
		{Kind: "account_transfer_in", Fact: record.TypeAccountTransferred, Group: "intake.group.account", Fixed: map[string]any{"direction": "in"}, Fields: []intakeField{
			idField(), {Name: "other_region", Label: "f.other_region", Hint: "f.other_region_hint", Summary: true},
			periodField("period", "f.transfer_period"), yuanField("amount", "f.transfer_amount"),
		}},
		{Kind: "other", Fact: record.TypeOtherRecorded, Group: "intake.group.other", Fields: []intakeField{
			idField(), {Name: "kind", Label: "f.other_kind", Hint: "f.other_kind_hint", Summary: true},
			{Name: "attributes", Kind: fieldAttributes, Input: "textarea", Label: "f.attributes", Hint: "f.attributes_hint", Wide: true},
		}},
		{Kind: "rule_set", Fact: record.TypeRuleSetAdopted, Group: "intake.group.other", Intro: "intake.rule_set.intro", Fields: []intakeField{
			{Name: "body", Input: "textarea", Label: "f.rule_body", Hint: "f.rule_body_hint", Wide: true, File: true},
		}},
	} {
		intakeForms[f.Kind] = f
	}
	// A voided event needs only the reason (the maintenance form names the event).
	voidForm = &intakeForm{Kind: review.Maintenance, Fact: record.TypeEventVoided, Fields: []intakeField{textArea("reason", "f.void_reason")}}
	// A person change made by maintenance may also correct the ID number.
	pc := *intakeForms["person_change"]
	pc.Kind, pc.Intro = review.Maintenance, "intake.person_correction.intro"
	pc.Fields = slices.Insert(slices.Clone(pc.Fields), 1, intakeField{Name: "new_id_number", Kind: fieldNewIDNumber, Label: "f.new_id_number",
		Hint: "f.new_id_number_hint", Optional: true, Upper: true})
	personCorrectionForm = &pc
}

var (
	// voidForm is the fact part of a maintenance draft that voids an event.
	voidForm *intakeForm
	// personCorrectionForm is the fact part of a maintenance draft that changes a person: the person change
	// form with the new ID number (a correction confirmed by public security, R5.2), which the counter's
	// person change form does not take.
	personCorrectionForm *intakeForm
)

// factForm returns the form of the facts of an event type, for maintenance; nil when there is none.
func factForm(eventType string) *intakeForm {
	switch eventType {
	case record.TypeEventVoided:
		return voidForm
	case record.TypePersonChanged:
		return personCorrectionForm
	}
	for _, f := range intakeForms {
		if f.Fact == eventType {
			return f
		}
	}
	return nil
}

// makerOf is the post that makes drafts of a kind (as review decides it: maintenance by a maintainer).
func makerOf(kind string) auth.Post {
	if kind == review.Maintenance {
		return auth.PostMaintainer
	}
	return auth.PostCollector
}

// ownForms are the kinds with forms of their own (console.go), by their paths.
var ownForms = map[string]string{"person_registration": "/console/intake/person", "contribution_batch": "/console/intake/batch"}

// intakeMakers are the posts that open intake pages at all; each kind then needs its own maker post.
var intakeMakers = []auth.Post{auth.PostCollector, auth.PostMaintainer}

func (s *server) intakeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/intake/{$}", s.staffOnly(intakeMakers, s.intakeIndex))
	mux.HandleFunc("GET /console/intake/{kind}", s.staffOnly(intakeMakers, s.intakePage))
	mux.HandleFunc("POST /console/intake/{kind}", s.staffForm(intakeMakers, s.intakeSubmit))
	// Makers correct, resubmit and withdraw their own drafts.
	mux.HandleFunc("GET /console/drafts/{id}/edit", s.staffOnly(intakeMakers, s.draftEdit))
	mux.HandleFunc("POST /console/drafts/{id}/edit", s.staffForm(intakeMakers, s.draftEditSubmit))
	mux.HandleFunc("POST /console/drafts/{id}/withdraw", s.staffForm(intakeMakers, s.withdraw))
}

// --- the index of intake pages ---

type intakeLink struct {
	Kind, Href string
	Chain      []string
}

type intakeGroup struct {
	Label string
	Links []intakeLink
}

func (s *server) intakeIndex(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := s.staffView(w, r, p, "intake.title")
	var groups []intakeGroup
	add := func(label string, l intakeLink) {
		for i := range groups {
			if groups[i].Label == label {
				groups[i].Links = append(groups[i].Links, l)
				return
			}
		}
		groups = append(groups, intakeGroup{Label: label, Links: []intakeLink{l}})
	}
	for _, kind := range intakeOrder {
		if !p.Has(makerOf(kind)) {
			continue
		}
		chain, err := s.cfg.Review.Chain(r.Context(), kind)
		if err != nil {
			s.failErr(w, r, "console", err)
			return
		}
		l := intakeLink{Kind: kind, Href: "/console/intake/" + kind, Chain: chain}
		if href, ok := ownForms[kind]; ok {
			l.Href = href
		}
		switch {
		case kind == "person_registration":
			add("intake.group.person", l)
		case kind == "contribution_batch":
			add("intake.group.contribution", l)
		case kind == review.Maintenance:
			add("intake.group.maintenance", l)
		default:
			add(intakeForms[kind].Group, l)
		}
	}
	v.Data = groups
	s.render(w, r, http.StatusOK, "intake_index", v)
}

// --- one form ---

// intakeData is what intake.html shows.
type intakeData struct {
	Kind        string
	Form        *intakeForm
	Action      string
	Edit        string // the draft number when a returned draft is corrected
	Materials   []review.Material
	Maintenance bool
	Choose      bool     // maintenance: the first step, choosing the fact type and the event
	FactTypes   []string // maintenance: the fact types a maintenance draft may hold
	FactType    string
	Chain       []string
}

// formField is a field with the page it is on, for the "field" template.
type formField struct {
	V *view
	F intakeField
}

// intakePage serves the empty form of a kind.
func (s *server) intakePage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	kind := r.PathValue("kind")
	if kind == review.Maintenance {
		s.maintenancePage(w, r, p)
		return
	}
	f, ok := intakeForms[kind]
	if !ok {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return
	}
	if !p.Has(makerOf(kind)) {
		s.fail(w, r, "console", http.StatusForbidden, "err.forbidden")
		return
	}
	v := s.staffView(w, r, p, "kind."+kind)
	for _, fl := range f.Fields {
		if fl.Default != nil {
			v.Form[fl.Name] = fl.Default(s)
		}
	}
	s.renderIntake(w, r, http.StatusOK, v, intakeData{Kind: kind, Form: f, Action: "/console/intake/" + kind})
}

func (s *server) renderIntake(w http.ResponseWriter, r *http.Request, status int, v *view, d intakeData) {
	if d.Chain == nil {
		chain, err := s.cfg.Review.Chain(r.Context(), d.Kind)
		if err != nil {
			s.failErr(w, r, "console", err)
			return
		}
		d.Chain = chain
	}
	v.Data = d
	s.render(w, r, status, "intake", v)
}

// intakeSubmit takes a filled form: it builds the fact, checks it, stores the materials and submits the draft.
func (s *server) intakeSubmit(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	kind := r.PathValue("kind")
	if kind == review.Maintenance {
		s.maintenanceSubmit(w, r, p)
		return
	}
	f, ok := intakeForms[kind]
	if !ok {
		s.fail(w, r, "console", http.StatusNotFound, "err.not_found")
		return
	}
	v := s.staffView(w, r, p, "kind."+kind)
	d := intakeData{Kind: kind, Form: f, Action: "/console/intake/" + kind}
	df, err := s.buildFact(r, v, f)
	if s.intakeInvalid(w, r, v, d, s.validate(r.Context(), kind, []review.DraftFact{df}, f, err), f) {
		return
	}
	mats, err := s.materials(r.Context(), r)
	if err != nil {
		s.intakeInvalid(w, r, v, d, err, f)
		return
	}
	dr, err := s.cfg.Review.Submit(r.Context(), actorOf(p), review.Submission{Kind: kind, Facts: []review.DraftFact{df}, Materials: mats,
		Summary: summary(kind, f, df, v.Form)})
	if err != nil {
		s.intakeInvalid(w, r, v, d, err, f)
		return
	}
	http.Redirect(w, r, "/console/drafts/"+dr.Number+"?n=submitted", http.StatusSeeOther)
}

// intakeInvalid shows the form again with err's validation errors beside their fields and reports true, or
// reports false when err is nil. Errors that are not validation errors get the error page.
func (s *server) intakeInvalid(w http.ResponseWriter, r *http.Request, v *view, d intakeData, err error, f *intakeForm) bool {
	if err == nil {
		return false
	}
	if !showInvalid(v, err, formFieldOf(f)) {
		s.failErr(w, r, "console", err)
		return true
	}
	// Files cannot be put back into a file input: say that they were not kept.
	if r.MultipartForm != nil && len(r.MultipartForm.File["materials"]) > 0 && r.MultipartForm.File["materials"][0].Filename != "" {
		if _, bad := v.Errors["materials"]; !bad {
			v.Errors["materials"] = v.T("intake.materials_again")
		}
	}
	s.renderIntake(w, r, http.StatusUnprocessableEntity, v, d)
	return true
}

// formFieldOf maps an error's field — "facts[0].wage", "wage", "reason" of a maintenance draft — to the form
// field it is shown beside; "" lists it above the form.
func formFieldOf(f *intakeForm) func(string) string {
	return func(name string) string {
		if rest, ok := strings.CutPrefix(name, "facts[0]."); ok {
			name = rest
		} else {
			switch name {
			case "reason", "method": // a maintenance draft's own reason and method
				return "maint_" + name
			case "materials", "supersedes", "fact_type":
				return name
			}
			if strings.HasPrefix(name, "materials.") { // a file refused by review.AddMaterial
				return "materials"
			}
		}
		if f == nil {
			return ""
		}
		for _, fl := range f.Fields {
			if fl.Name == name {
				return name
			}
		}
		return ""
	}
}

// buildFact turns the submitted form into a draft fact, keeping the submitted text in v.Form. Text that is
// not of the field's kind — an amount that is not yuan, a number that is not whole — is reported; the fact's
// own rules are record's (checkFacts).
func (s *server) buildFact(r *http.Request, v *view, f *intakeForm) (review.DraftFact, error) {
	df := review.DraftFact{Type: f.Fact}
	data := map[string]any{}
	var errs record.Errors
	for _, fl := range f.Fields {
		val := strings.TrimSpace(r.PostFormValue(fl.Name))
		if fl.File && r.MultipartForm != nil {
			if fhs := r.MultipartForm.File[fl.Name+"_file"]; len(fhs) > 0 && fhs[0].Filename != "" {
				b, err := readPart(fhs[0])
				if err != nil {
					return df, err
				}
				val = strings.TrimSpace(string(b))
			}
		}
		if fl.Upper {
			val = strings.ToUpper(val)
		}
		v.Form[fl.Name] = val
		// Left empty, an optional field is left out; so is an unchosen number, whose rule (a range) then
		// speaks for it.
		if val == "" && (fl.Optional || fl.Kind == fieldInt) {
			continue
		}
		switch fl.Kind {
		case fieldIDNumber:
			df.IDNumber = val
		case fieldNewIDNumber:
			df.NewIDNumber = val
		case fieldCreditCode:
			df.CreditCode = val
		case fieldYuan:
			fen, err := record.ParseYuan(fl.Name, val)
			if err != nil {
				errs.Append("", err)
				continue
			}
			data[fl.Name] = int64(fen)
		case fieldInt:
			n, err := strconv.Atoi(val)
			if err != nil {
				errs.Append("", record.Invalid(fl.Name, "integer", "%q is not a whole number", val))
				continue
			}
			data[fl.Name] = n
		case fieldAttributes:
			attrs, err := parseAttributes(fl.Name, val)
			if err != nil {
				errs.Append("", err)
				continue
			}
			data[fl.Name] = attrs
		default:
			data[fl.Name] = val
		}
	}
	for k, x := range f.Fixed {
		data[k] = x
	}
	b, err := json.Marshal(data)
	if err != nil {
		return df, err
	}
	df.Data = b
	return df, errs.Err()
}

// appendInvalid adds the validation errors in err — one, or a list — to es and reports true; it reports false
// for any other error, which the caller then handles. A nil err adds nothing.
func appendInvalid(es *record.Errors, err error) bool {
	var list record.Errors
	var one *record.Error
	switch {
	case err == nil:
	case errors.As(err, &list):
		*es = append(*es, list...)
	case errors.As(err, &one) && one.Code == record.EInvalid:
		*es = append(*es, one)
	default:
		return false
	}
	return true
}

// parseAttributes reads "name=value" lines (a full-width ＝ too); blank lines are skipped.
func parseAttributes(field, text string) (map[string]string, error) {
	out := map[string]string{}
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(strings.ReplaceAll(line, "＝", "="))
		if line == "" {
			continue
		}
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, record.Invalid(field, "attribute_line", "line %d (%q) is not written name=value", i+1, line)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return out, nil
}

// attributesText writes attributes back as "name=value" lines, in name order.
func attributesText(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v\n", k, m[k])
	}
	return b.String()
}

// checkFacts checks the facts as record does (every rule of every fact) and what a fact cannot know on its
// own: that the persons and employers it names are registered — a registration's, that they are not yet.
func (s *server) checkFacts(ctx context.Context, kind string, facts []review.DraftFact, f *intakeForm) error {
	now := s.cfg.Now()
	var errs record.Errors
	for i, df := range facts {
		prefix := fmt.Sprintf("facts[%d]", i)
		fact, err := df.Fact()
		if err == nil {
			err = fact.Validate(now)
		}
		if err != nil {
			errs.Append(prefix, err)
		}
		if df.IDNumber != "" && record.ValidateCitizenID("id_number", df.IDNumber, now) == nil {
			missing, err := s.cfg.Store.MissingPersons(ctx, []string{df.IDNumber})
			if err != nil {
				return err
			}
			switch registered := len(missing) == 0; {
			case df.Type == record.TypePersonRegistered && registered && i == 0:
				errs.Append(prefix, record.Invalid("id_number", "person_not_registered", "a person with this ID number is registered already"))
			case df.Type != record.TypePersonRegistered && !registered && !registeredEarlier(facts[:i], df.IDNumber):
				errs.Append(prefix, record.Invalid("id_number", "person_registered", "no registered person has this ID number"))
			}
		}
		if df.NewIDNumber != "" && df.NewIDNumber != df.IDNumber && record.ValidateCitizenID("new_id_number", df.NewIDNumber, now) == nil {
			missing, err := s.cfg.Store.MissingPersons(ctx, []string{df.NewIDNumber})
			if err != nil {
				return err
			}
			if len(missing) == 0 {
				errs.Append(prefix, record.Invalid("new_id_number", "new_id_free", "a registered person has this ID number already"))
			}
		}
		if df.CreditCode != "" && record.ValidateUSCC("credit_code", df.CreditCode) == nil {
			_, err := s.cfg.Store.Employer(ctx, df.CreditCode)
			if err != nil && record.ErrorCode(err) != record.ENotFound {
				return err
			}
			switch exists := err == nil; {
			case df.Type == record.TypeEmployerRegistered && exists:
				errs.Append(prefix, record.Invalid("credit_code", "employer_not_registered", "an employer with this credit code is registered already"))
			case df.Type == record.TypeEmployerChanged && !exists:
				errs.Append(prefix, record.Invalid("credit_code", "employer_registered", "no employer is registered with this credit code"))
			}
		}
		var data map[string]any
		if json.Unmarshal(df.Data, &data) == nil {
			if code, _ := data["employer"].(string); code != "" && record.ValidateUSCC("employer", code) == nil {
				if _, err := s.cfg.Store.Employer(ctx, code); record.ErrorCode(err) == record.ENotFound {
					errs.Append(prefix, record.Invalid("employer", "employer_registered", "no employer is registered with this credit code"))
				} else if err != nil {
					return err
				}
			}
		}
	}
	return errs.Err()
}

// validate adds checkFacts' findings to the form's own errors (ferr), so that every bad field is shown at once;
// an error that is not a validation error is returned as it is.
func (s *server) validate(ctx context.Context, kind string, facts []review.DraftFact, f *intakeForm, ferr error) error {
	var errs record.Errors
	if !appendInvalid(&errs, ferr) {
		return ferr
	}
	if err := s.checkFacts(ctx, kind, facts, f); !appendInvalid(&errs, err) {
		return err
	}
	return errs.Err()
}

// registeredEarlier reports whether an earlier fact of the draft registers the person.
func registeredEarlier(facts []review.DraftFact, id string) bool {
	return slices.ContainsFunc(facts, func(f review.DraftFact) bool { return f.Type == record.TypePersonRegistered && f.IDNumber == id })
}

// summary is the draft's line in queues and lists: the business type, the person's masked ID number or the
// employer's code, and the fields marked for it — never an ID number in clear.
func summary(kind string, f *intakeForm, df review.DraftFact, values map[string]string) string {
	parts := []string{}
	if df.IDNumber != "" {
		parts = append(parts, record.MaskID(df.IDNumber))
	}
	if df.NewIDNumber != "" {
		parts = append(parts, "→ "+record.MaskID(df.NewIDNumber))
	}
	for _, fl := range f.Fields {
		if !fl.Summary || fl.Kind == fieldIDNumber || values[fl.Name] == "" {
			continue
		}
		val := values[fl.Name]
		if fl.OptionLabel != "" {
			val = text("zh", fl.OptionLabel+val)
		}
		if r := []rune(val); len(r) > 40 {
			val = string(r[:40]) + "…"
		}
		parts = append(parts, val)
	}
	title := review.Kinds[kind].Title
	if kind == review.Maintenance {
		title += "：" + text("zh", "fact."+f.Fact)
	}
	return title + "：" + strings.Join(parts, " ")
}

// factValues writes a fact back into form text: the reverse of buildFact, to correct a returned draft or an
// event.
func factValues(f *intakeForm, df review.DraftFact, into map[string]string) {
	var data map[string]any
	dec := json.NewDecoder(strings.NewReader(string(df.Data)))
	dec.UseNumber()
	if err := dec.Decode(&data); err != nil {
		data = map[string]any{}
	}
	for _, fl := range f.Fields {
		switch fl.Kind {
		case fieldIDNumber:
			into[fl.Name] = df.IDNumber
			continue
		case fieldNewIDNumber:
			into[fl.Name] = df.NewIDNumber
			continue
		case fieldCreditCode:
			into[fl.Name] = df.CreditCode
			continue
		}
		x, ok := data[fl.Name]
		if !ok {
			continue
		}
		switch fl.Kind {
		case fieldYuan:
			if n, err := x.(json.Number).Int64(); err == nil {
				into[fl.Name] = record.Fen(n).String()
			}
		case fieldAttributes:
			if m, ok := x.(map[string]any); ok {
				into[fl.Name] = attributesText(m)
			}
		default:
			into[fl.Name] = fmt.Sprint(x)
		}
	}
}

// factFields lists a draft fact's fields for the draft page: labelled in lang, money in yuan, choices by their
// names — through the intake form of its type when there is one, otherwise as they are.
func factFields(lang string, df review.DraftFact) []kv {
	var out []kv
	if f := factForm(df.Type); f != nil {
		values := map[string]string{}
		factValues(f, df, values)
		for _, fl := range f.Fields {
			val, ok := values[fl.Name]
			if !ok || val == "" || fl.Kind == fieldIDNumber || fl.Kind == fieldCreditCode {
				continue
			}
			if fl.OptionLabel != "" {
				val = text(lang, fl.OptionLabel+val)
			}
			out = append(out, kv{K: text(lang, fl.Label), V: val, Long: fl.Input == "textarea"})
		}
		for k, x := range f.Fixed {
			out = append(out, kv{K: text(lang, "f."+k), V: text(lang, "fixed."+fmt.Sprint(x))})
		}
		return out
	}
	var m map[string]any
	if json.Unmarshal(df.Data, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		label := k
		if _, ok := messages[lang]["f."+k]; ok {
			label = text(lang, "f."+k)
		}
		out = append(out, kv{K: label, V: fmt.Sprint(m[k]), Long: len(fmt.Sprint(m[k])) > 200})
	}
	return out
}
