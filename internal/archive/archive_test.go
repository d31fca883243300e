package archive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"sirec/internal/archive"
	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

var (
	collector  = review.Actor{User: "caiji", Posts: []string{"collector"}}
	maintainer = review.Actor{User: "weihu", Posts: []string{"maintainer"}}
	reviewers  = []review.Actor{{User: "chushen", Posts: []string{"initial_reviewer"}}, {User: "shenhe", Posts: []string{"reviewer"}},
		{User: "fuhe", Posts: []string{"rechecker"}}, {User: "shenpi", Posts: []string{"approver"}}}
	sysadmin = review.Actor{User: "admin", Posts: []string{"sysadmin"}}
)

func idNumber(n int) string {
	body := fmt.Sprintf("11010519850307%03d", n)
	return body + string(record.IDCheckChar(body))
}

func data(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// setup is a store with the review and archive services over it, the archive on UTC days.
func setup(env *storetest.Env) (*store.Store, *review.Service, *archive.Service) {
	st := env.Store()
	ar := archive.New(st)
	ar.Location = time.UTC
	return st, review.New(st), ar
}

func TestArchive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st, rv, ar := setup(env)
		cfg := auth.DefaultConfig()
		cfg.Argon2 = auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
		cfg.Location = time.UTC
		users := auth.New(st.Driver(), cfg)

		material := func(content, name string) review.Material {
			t.Helper()
			sha, err := rv.AddMaterial(ctx, []byte(content))
			if err != nil {
				t.Fatal(err)
			}
			return review.Material{SHA256: sha, Name: name, ContentType: "application/pdf"}
		}
		register := func(n int, m review.Material) review.Draft {
			t.Helper()
			d, err := rv.Submit(ctx, collector, review.Submission{Kind: "person_registration", Materials: []review.Material{m}, Facts: []review.DraftFact{
				{Type: record.TypePersonRegistered, IDNumber: idNumber(n), Data: data(map[string]string{"name": "李四", "region": "110105", "registered_on": "2024-03-01"})},
				{Type: record.TypeEnrolmentStarted, IDNumber: idNumber(n), Data: data(map[string]string{"type": "pension", "from": "2024-03-01"})}}})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range reviewers {
				if d, err = rv.Act(ctx, a, d.ID, review.Approve, ""); err != nil {
					t.Fatal(err)
				}
			}
			return d
		}
		idCard := material("%PDF 身份证复印件 1", "身份证.pdf")
		d1 := register(1, idCard)
		d2 := register(2, material("%PDF 身份证复印件 2", "身份证2.pdf"))
		// A maintenance draft about person 1, still in review, with its supporting material.
		payslip := material("%PDF 工资表", "工资表.pdf")
		d3, err := rv.Submit(ctx, maintainer, review.Submission{Kind: review.Maintenance, Reason: "补录", Method: "依工资表补录",
			Materials: []review.Material{payslip}, Facts: []review.DraftFact{{Type: record.TypeContributionPosted, IDNumber: idNumber(1),
				Data: data(map[string]any{"period": "202404", "type": "pension", "status": "paid", "wage": 600000})}}})
		if err != nil {
			t.Fatal(err)
		}
		// An outside helper's confidentiality agreement.
		nda := material("%PDF 保密协议", "保密协议.pdf")
		today := time.Now().UTC().Format("2006-01-02")
		if _, err := users.AddUser(ctx, auth.NewUser{Username: "waibao", DisplayName: "外包", Password: "Secret-pass-42", Posts: []auth.Post{auth.PostMaintainer},
			External: true, Agreement: &auth.AgreementSpec{SHA256: nda.SHA256, Name: nda.Name, SignedOn: today, ExpiresOn: "2099-12-31"}}, "admin", time.Now()); err != nil {
			t.Fatal(err)
		}

		all, total, err := ar.List(ctx, archive.Filter{}, "", 0, 100)
		if err != nil || total != 4 || len(all) != 4 {
			t.Fatalf("all: %d %+v %v", total, all, err)
		}
		year := time.Now().UTC().Year()
		byName := map[string]archive.Entry{}
		for _, e := range all {
			byName[e.Name] = e
			if !e.Stored || e.Size <= 0 || e.AddedAt.IsZero() {
				t.Errorf("entry %+v", e)
			}
		}
		if e := byName["身份证.pdf"]; e.Draft != d1.Number || e.Type != "person_registration" || e.Stage != archive.StageCollection || e.RetentionYears != 0 || e.KeptUntil != "" {
			t.Fatalf("registration material: %+v", e)
		}
		if e := byName["工资表.pdf"]; e.Type != review.Maintenance || e.Stage != archive.StageMaintenance || e.DraftStatus != review.StatusInReview {
			t.Fatalf("maintenance material: %+v", e)
		}
		if e := byName["保密协议.pdf"]; e.Source != "agreement" || e.User != "waibao" || e.RetentionYears != 10 || e.KeptUntil != fmt.Sprintf("%d-12-31", year+10) {
			t.Fatalf("agreement: %+v", e)
		}
		// Per person: the materials of every draft that concerns person 1, and nothing of person 2.
		p1, _ := st.FindPerson(ctx, idNumber(1))
		mine, total, err := ar.List(ctx, archive.Filter{Person: p1}, "name", 0, 100)
		if err != nil || total != 2 || mine[0].Name != "工资表.pdf" || mine[1].Name != "身份证.pdf" {
			t.Fatalf("person 1: %+v %v", mine, err)
		}
		// Per draft, by stage and by type.
		for _, c := range []struct {
			f    archive.Filter
			want int64
		}{{archive.Filter{Draft: d2.ID}, 1}, {archive.Filter{Draft: d3.ID}, 1}, {archive.Filter{Stage: archive.StageMaintenance}, 2},
			{archive.Filter{Type: "person_registration"}, 2}, {archive.Filter{User: "waibao"}, 1}} {
			if _, n, err := ar.List(ctx, c.f, "", 0, 10); err != nil || n != c.want {
				t.Errorf("filter %+v: %d, %v; want %d", c.f, n, err, c.want)
			}
		}
		if _, _, err := ar.List(ctx, archive.Filter{Type: "poems"}, "", 0, 10); record.ErrorCode(err) != record.EInvalid {
			t.Fatalf("unknown type: %v", err)
		}

		// Retention: only a system administrator sets it, with a reason; every change is logged.
		if _, err := ar.SetRetention(ctx, maintainer, "person_registration", 50, "档案管理办法"); record.ErrorCode(err) != record.EForbidden {
			t.Fatalf("set by a maintainer: %v", err)
		}
		var es record.Errors
		if _, err := ar.SetRetention(ctx, sysadmin, "person_registration", -1, ""); !errors.As(err, &es) || len(es) != 2 || es[0].Field != "years" || es[1].Field != "reason" {
			t.Fatalf("bad setting: %v", err)
		}
		if _, err := ar.SetRetention(ctx, sysadmin, "person_registration", 30, "依本机构档案保管期限表"); err != nil {
			t.Fatal(err)
		}
		e, _, err := ar.Read(ctx, idCard.SHA256, d1.ID)
		if err != nil || e.RetentionYears != 30 || e.KeptUntil != fmt.Sprintf("%d-12-31", year+30) || e.Elapsed {
			t.Fatalf("after setting 30 years: %+v %v", e, err)
		}
		changes, n, err := ar.RetentionLog(ctx, 0, 10)
		if err != nil || n != 1 || changes[0].OldYears != 0 || changes[0].NewYears != 30 || changes[0].Actor != "admin" {
			t.Fatalf("retention log: %+v %v", changes, err)
		}
		// Long after, the period is over: the listing says so, and nothing is deleted.
		ar.Now = func() time.Time { return time.Now().AddDate(31, 0, 0) }
		e, b, err := ar.Read(ctx, idCard.SHA256, 0)
		if err != nil || !e.Elapsed || !strings.Contains(string(b), "身份证复印件") {
			t.Fatalf("elapsed: %+v %v", e, err)
		}

		// Read checks the hash: a changed material is refused, never served.
		env.Raw("UPDATE review_materials SET content = " + env.Blob([]byte("forged")) + " WHERE sha256 = '" + payslip.SHA256 + "'")
		_, b, err = ar.Read(ctx, payslip.SHA256, d3.ID)
		var re *record.Error
		if !errors.As(err, &re) || re.Code != record.EConflict || re.Rule != archive.ErrHashMismatch || b != nil || !strings.Contains(re.Message, "工资表.pdf") {
			t.Fatalf("changed material: %v", err)
		}
		if _, _, err := ar.Read(ctx, idCard.SHA256, d2.ID); record.ErrorCode(err) != record.ENotFound {
			t.Fatalf("material read through a draft it is not attached to: %v", err)
		}
		if _, _, err := ar.Read(ctx, "nothex", 0); record.ErrorCode(err) != record.EInvalid {
			t.Fatalf("bad hash: %v", err)
		}
	})
}

// TestArchiveIndexesAGivenUpNumberUnderItsOwnKey: the material of a draft registering a number that a corrected
// person gave up is filed under the key the registration will give, not under the corrected person's key.
func TestArchiveIndexesAGivenUpNumberUnderItsOwnKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		st, rv, ar := setup(env)
		if _, err := st.Record(ctx, "setup", []record.Fact{&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: idNumber(5)}, Name: "王更", Region: "110105", RegisteredOn: "2015-01-01"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Record(ctx, "setup", []record.Fact{&record.PersonChanged{PersonRef: record.PersonRef{IDNumber: idNumber(5)}, NewIDNumber: idNumber(6), Reason: "公安机关更正身份号码"}}); err != nil {
			t.Fatal(err)
		}
		corrected, _ := st.FindPerson(ctx, idNumber(6))
		sha, err := rv.AddMaterial(ctx, []byte("%PDF 新登记人员身份证"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rv.Submit(ctx, collector, review.Submission{Kind: "person_registration", Materials: []review.Material{{SHA256: sha, Name: "身份证.pdf", ContentType: "application/pdf"}},
			Facts: []review.DraftFact{{Type: record.TypePersonRegistered, IDNumber: idNumber(5), Data: data(map[string]string{"name": "赵新", "region": "110105", "registered_on": "2024-03-01"})}}}); err != nil {
			t.Fatal(err)
		}
		future, registered, err := st.PersonKeyOf(ctx, idNumber(5))
		if err != nil || registered || future == corrected {
			t.Fatalf("the key the registration will give: %q %v %v", future, registered, err)
		}
		if _, total, err := ar.List(ctx, archive.Filter{Person: corrected}, "", 0, 10); err != nil || total != 0 {
			t.Fatalf("the corrected person's archive holds %d (%v)", total, err)
		}
		if got, total, err := ar.List(ctx, archive.Filter{Person: future}, "", 0, 10); err != nil || total != 1 || got[0].Name != "身份证.pdf" {
			t.Fatalf("the newcomer's archive: %d %+v %v", total, got, err)
		}
	})
}
