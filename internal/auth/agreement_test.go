package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sirec/internal/auth"
	"sirec/internal/record"
	"sirec/internal/store/storetest"
)

// storeDocument stores a document as review.Service.AddMaterial does, and returns its SHA-256.
func (f fixture) storeDocument(t *testing.T, content string) string {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256([]byte(content))
	sha := hex.EncodeToString(sum[:])
	tx, err := f.d.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO review_materials (sha256, size, content, created_at) VALUES ($1, $2, $3, $4)", sha, len(content), []byte(content), t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return sha
}

func TestOutsideHelpers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newService(t, env)
		doc := f.storeDocument(t, "%PDF 保密协议 signed by 外包工程师")
		spec := auth.AgreementSpec{SHA256: doc, Name: "保密协议.pdf", ContentType: "application/pdf", SignedOn: "2026-03-01", ExpiresOn: "2026-06-30"}

		// Added without an agreement: disabled, and cannot be enabled until one is on file.
		u, err := f.AddUser(ctx, auth.NewUser{Username: "vendor1", DisplayName: "外包工程师", Password: password, Posts: []auth.Post{auth.PostMaintainer}, External: true}, "root", t0)
		if err != nil || !u.Disabled || !u.External {
			t.Fatalf("added %+v %v", u, err)
		}
		wantErr(t, f.Enable(ctx, "vendor1", "root", t0), record.EConflict, "confidentiality_agreement", "R11.2")
		if _, err := f.Login(ctx, "vendor1", password, t0); record.ErrorCode(err) != record.EUnauthorized {
			t.Fatalf("an outside helper without agreement signed in: %v", err)
		}
		// A bad agreement is refused field by field; none is filed.
		for _, c := range []struct {
			name  string
			edit  func(*auth.AgreementSpec)
			field string
			rule  string
		}{
			{"not stored", func(a *auth.AgreementSpec) { a.SHA256 = strings.Repeat("ab", 32) }, "sha256", "material_stored"},
			{"signed in the future", func(a *auth.AgreementSpec) { a.SignedOn = "2026-03-05" }, "signed_on", "signed_future"},
			{"ends before it begins", func(a *auth.AgreementSpec) { a.ExpiresOn = "2026-02-01" }, "expires_on", "expiry_after_signing"},
			{"expired", func(a *auth.AgreementSpec) { a.SignedOn, a.ExpiresOn = "2025-01-01", "2025-12-31" }, "expires_on", "agreement_expired"},
			{"bad date", func(a *auth.AgreementSpec) { a.ExpiresOn = "2026-13-01" }, "expires_on", "date_format"},
		} {
			a := spec
			c.edit(&a)
			_, err := f.AddAgreement(ctx, "vendor1", a, "root", t0)
			var es record.Errors
			var e *record.Error
			switch {
			case errorsAs(err, &es):
				e = es[0]
			case errorsAs(err, &e):
			default:
				t.Fatalf("%s: %v", c.name, err)
			}
			if e.Field != c.field || e.Rule != c.rule {
				t.Errorf("%s: %v; want field %s rule %s", c.name, err, c.field, c.rule)
			}
		}
		if as, _ := f.Agreements(ctx, "vendor1"); len(as) != 0 {
			t.Fatalf("bad agreements were filed: %+v", as)
		}
		a, err := f.AddAgreement(ctx, "vendor1", spec, "root", t0)
		if err != nil || a.ExpiresOn != "2026-06-30" {
			t.Fatalf("agreement %+v %v", a, err)
		}
		if err := f.Enable(ctx, "vendor1", "root", t0); err != nil {
			t.Fatal(err)
		}
		sess := f.mustLogin(t, "vendor1", t0.Add(time.Hour))
		p, err := f.Authenticate(ctx, sess.Token, t0.Add(time.Hour+time.Minute))
		if err != nil || !p.External {
			t.Fatalf("outside helper's session: %+v %v", p, err)
		}
		// An outside helper never holds a review post.
		wantErr(t, f.Grant(ctx, "vendor1", auth.PostApprover, "root", t0), record.EConflict, "external_reviewer", "R11.2")
		_, err = f.AddUser(ctx, auth.NewUser{Username: "vendor2", DisplayName: "V", Password: password, Posts: []auth.Post{auth.PostReviewer}, External: true}, "root", t0)
		wantErr(t, err, record.EConflict, "external_reviewer")

		// The day after the agreement ends, the next request disables the user: the session ends at once, and the
		// API token is revoked with it.
		secret, _, err := f.CreateToken(ctx, auth.TokenSpec{Username: "vendor1", Name: "feed", Scopes: []auth.Scope{auth.ScopePersonsRead}, ExpiresAt: t0.AddDate(1, 0, 0)}, "root", t0)
		if err != nil {
			t.Fatal(err)
		}
		after := time.Date(2026, 7, 1, 0, 5, 0, 0, time.UTC)
		sess = f.mustLogin(t, "vendor1", time.Date(2026, 6, 30, 23, 50, 0, 0, time.UTC))
		_, err = f.Authenticate(ctx, sess.Token, after)
		wantErr(t, err, record.EUnauthorized, "", "confidentiality agreement")
		if _, err := f.Authenticate(ctx, secret, after); record.ErrorCode(err) != record.EUnauthorized {
			t.Fatalf("token after expiry: %v", err)
		}
		got, _ := f.GetUser(ctx, "vendor1")
		if !got.Disabled || got.AgreementExpires != "2026-06-30" {
			t.Fatalf("after expiry: %+v", got)
		}
		tokens, _ := f.ListTokens(ctx, "vendor1")
		if len(tokens) != 1 || tokens[0].RevokedAt.IsZero() {
			t.Fatalf("token not revoked: %+v", tokens)
		}
		entries, _, _ := f.Log(ctx, auth.LogFilter{Subject: "vendor1", Action: auth.ActionUserDisable}, 0, 10)
		if len(entries) != 1 || entries[0].Actor != auth.ExpiryActor || !strings.Contains(entries[0].Detail, "expired after 2026-06-30") || !strings.Contains(entries[0].Detail, "ended 1 sessions") {
			t.Fatalf("disable log: %+v", entries)
		}
		wantErr(t, f.Enable(ctx, "vendor1", "root", after), record.EConflict, "confidentiality_agreement")

		// The sweep disables the others whose agreement ended, as the scheduler runs it; internal users are untouched.
		f.mustAddUser(t, "clerk1", auth.PostCollector)
		_, err = f.AddUser(ctx, auth.NewUser{Username: "vendor3", DisplayName: "V3", Password: password, Posts: []auth.Post{auth.PostMaintainer}, External: true,
			Agreement: &auth.AgreementSpec{SHA256: doc, Name: "保密协议.pdf", SignedOn: "2026-02-01", ExpiresOn: "2026-05-31"}}, "root", t0)
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := f.GetUser(ctx, "vendor3"); u.Disabled {
			t.Fatal("added with an agreement in force, yet disabled")
		}
		if names, err := f.ExpireAgreements(ctx, time.Date(2026, 5, 31, 12, 0, 0, 0, time.UTC)); err != nil || len(names) != 0 {
			t.Fatalf("sweep on the last valid day: %v %v", names, err)
		}
		names, err := f.ExpireAgreements(ctx, time.Date(2026, 6, 1, 0, 1, 0, 0, time.UTC))
		if err != nil || !slices.Equal(names, []string{"vendor3"}) {
			t.Fatalf("sweep: %v %v", names, err)
		}
		// Marking an enabled user external without an agreement disables the user at once.
		u, err = f.SetExternal(ctx, "clerk1", true, "root", t0)
		if err != nil || !u.External || !u.Disabled {
			t.Fatalf("marked external: %+v %v", u, err)
		}
		if _, err := f.SetExternal(ctx, "clerk1", false, "root", t0); err != nil {
			t.Fatal(err)
		}
		if err := f.Enable(ctx, "clerk1", "root", t0); err != nil {
			t.Fatalf("internal again: %v", err)
		}
		f.mustAddUser(t, "rev1", auth.PostReviewer)
		_, err = f.SetExternal(ctx, "rev1", true, "root", t0)
		wantErr(t, err, record.EConflict, "external_reviewer")
	})
}

func errorsAs[T any](err error, target *T) bool { return errors.As(err, target) }
