package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
	"sirec/internal/transfer"
)

// A transfer carried as files between two agencies with no network between them: the trust list set up with
// `sirec agency trust add`, the package taken out with `sirec transfer export` and in with `sirec transfer
// import`, and the acknowledgement back the same way. Origin and destination on different engines.
func TestTransferByFile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		other := map[string]string{"sqlite": "postgres", "postgres": "sqlite"}[env.Engine]
		denv := storetest.New(t, other)
		dkeys := filepath.Join(t.TempDir(), "keys")
		dk, err := keyring.Create(dkeys, "sirec.agency/310115")
		if err != nil {
			t.Fatal(err)
		}
		origin, err := store.New(ctx, env.Driver(), env.Keys, store.Config{Region: storetest.Region})
		if err != nil {
			t.Fatal(err)
		}
		dest, err := store.New(ctx, denv.Driver(), dk, store.Config{Region: "310115"})
		if err != nil {
			t.Fatal(err)
		}
		at := func(e *storetest.Env, keys string) []string { return []string{"--db", e.DSN, "--keys", keys} }
		oargs, dargs := at(env, env.KeysDir), at(denv, dkeys)
		cli := func(want int, args ...string) string {
			t.Helper()
			out, errOut, code := run(t, "", args...)
			if code != want {
				t.Fatalf("sirec %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
			}
			return out + errOut
		}

		// Identity and trust list, by the command line.
		cli(0, append([]string{"agency", "set", "--name", "北京市朝阳区社会保险事业管理中心"}, oargs...)...)
		show := cli(0, append([]string{"agency", "show"}, oargs...)...)
		if !strings.Contains(show, "region        110105") || !strings.Contains(show, env.Keys.VKey) {
			t.Fatalf("agency show:\n%s", show)
		}
		cli(0, append([]string{"agency", "trust", "add", "--region", "310115", "--name", "浦东", "--key-file", filepath.Join(dkeys, keyring.VerifierKeyFile)}, oargs...)...)
		cli(0, append([]string{"agency", "trust", "add", "--region", "110105", "--name", "朝阳", "--key", env.Keys.VKey}, dargs...)...)
		// A key of another region is refused, naming the rule.
		if out := cli(1, append([]string{"agency", "trust", "add", "--region", "440300", "--name", "x", "--key", env.Keys.VKey}, dargs...)...); !strings.Contains(out, "verifier_key_region") {
			t.Fatalf("wrong key: %s", out)
		}
		if out := cli(0, append([]string{"agency", "log"}, dargs...)...); !strings.Contains(out, "trust_add") {
			t.Fatalf("agency log: %s", out)
		}

		id := "110105198003070012"
		ref := record.PersonRef{IDNumber: id}
		facts := []record.Fact{&record.PersonRegistered{PersonRef: ref, Name: "王五", Region: "110105", RegisteredOn: "2020-01-01"}}
		for m := 1; m <= 12; m++ {
			facts = append(facts, &record.ContributionPosted{PersonRef: ref, Period: record.MakePeriod(2024, m), Status: record.StatusPaid, Type: record.Pension, Wage: 900000})
		}
		if _, err := origin.Record(ctx, "test", facts); err != nil {
			t.Fatal(err)
		}
		approve := func(rv *review.Service, draft int64) {
			t.Helper()
			for _, p := range []string{"initial_reviewer", "reviewer", "rechecker", "approver"} {
				if _, err := rv.Act(ctx, review.Actor{User: p, Posts: []string{p}}, draft, review.Approve, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		ors, drs := review.New(origin), review.New(dest)
		otr, dtr := transfer.New(origin, ors, transfer.Config{}), transfer.New(dest, drs, transfer.Config{})
		tr, err := otr.Request(ctx, review.Actor{User: "collector", Posts: []string{"collector"}}, transfer.Request{IDNumber: id, Destination: "310115", Reason: "调动"})
		if err != nil {
			t.Fatal(err)
		}
		approve(ors, tr.DraftID)
		// No address on the trust list: the outbox waits, and says why.
		if out := cli(0, append([]string{"transfer", "deliver"}, oargs...)...); !strings.Contains(out, "delivered 0; 1 waiting") {
			t.Fatalf("deliver: %s", out)
		}
		if out := cli(0, append([]string{"transfer", "show", tr.Number}, oargs...)...); !strings.Contains(out, "no address on the trust list") || !strings.Contains(out, "status        approved") {
			t.Fatalf("show: %s", out)
		}

		dir := t.TempDir()
		pkg := filepath.Join(dir, "package")
		cli(0, append([]string{"transfer", "export", tr.Number, "--out", pkg}, oargs...)...)
		// A file changed on the way is refused with the reason.
		b, _ := os.ReadFile(pkg)
		bad := []byte(strings.Replace(string(b), `"name":"王五"`, `"name":"王六"`, 1))
		os.WriteFile(filepath.Join(dir, "bad"), bad, 0o600)
		if out := cli(1, append([]string{"transfer", "import", filepath.Join(dir, "bad")}, dargs...)...); !strings.Contains(out, "changed after it was signed") {
			t.Fatalf("altered file: %s", out)
		}
		out := cli(0, append([]string{"transfer", "import", pkg}, dargs...)...)
		if !strings.Contains(out, "checked and received as T000001: draft D000001") {
			t.Fatalf("import: %s", out)
		}
		if out := cli(0, append([]string{"transfer", "import", pkg}, dargs...)...); !strings.Contains(out, "was received before") {
			t.Fatalf("second import: %s", out)
		}
		approve(drs, 1)
		ack := filepath.Join(dir, "ack")
		cli(0, append([]string{"transfer", "export", "T000001", "--out", ack}, dargs...)...)
		if out := cli(0, append([]string{"transfer", "import", ack}, oargs...)...); !strings.Contains(out, "is acknowledged") {
			t.Fatalf("ack import: %s", out)
		}
		if out := cli(0, append([]string{"transfer", "list", "--direction", "out"}, oargs...)...); !strings.Contains(out, "acknowledged") {
			t.Fatalf("list: %s", out)
		}
		got, err := dtr.Get(ctx, 1)
		if err != nil || got.Status != transfer.StatusAccepted || got.Account <= 0 {
			t.Fatalf("destination: %+v %v", got, err)
		}
		p, err := dest.FindPerson(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		v, err := dest.PersonRecord(ctx, p)
		if err != nil || len(v.Derived.ContributionMonths) != 1 || v.Derived.ContributionMonths[0].Paid != 12 {
			t.Fatalf("destination record: %+v %v", v, err)
		}
	})
}
