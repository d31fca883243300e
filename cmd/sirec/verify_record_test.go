package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"sirec/internal/store/storetest"
	"sirec/internal/web"
)

// TestVerifyKeepsItsOutcome: sirec verify keeps each full verification's outcome — passed, and failed with what
// failed — for the console's journal page; --record=false and --journal-only keep nothing.
func TestVerifyKeepsItsOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys")
		db := []string{"--db", env.DSN, "--keys", keys}
		if out, errOut, code := run(t, "", append([]string{"demo", "--persons", "5", "--seed", "2", "--years", "1"}, db...)...); code != 0 {
			t.Fatalf("demo: %d %s %s", code, out, errOut)
		}
		runs := func() []web.VerifyRun {
			t.Helper()
			list, _, err := web.ListVerifyRuns(context.Background(), env.Driver(), 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		if out, _, code := run(t, "", append([]string{"verify", "--quiet"}, db...)...); code != 0 || !strings.HasPrefix(out, "checkpoints=") {
			t.Fatalf("verify: %d %s", code, out)
		}
		list := runs()
		if len(list) != 1 || !list[0].OK || list[0].Actor != web.VerifyByCLI || list[0].Events == 0 || len(list[0].Root) != 64 {
			t.Fatalf("kept runs: %+v", list)
		}
		run(t, "", append([]string{"verify", "--quiet", "--record=false"}, db...)...)
		run(t, "", append([]string{"verify", "--quiet", "--journal-only"}, db...)...)
		if n := len(runs()); n != 1 {
			t.Errorf("%d runs kept, want 1", n)
		}
		env.Raw("UPDATE contributions SET wage = wage + 100 WHERE seq = (SELECT MIN(seq) FROM contributions)")
		if _, _, code := run(t, "", append([]string{"verify", "--quiet"}, db...)...); code != 1 {
			t.Fatalf("tampered verify exit %d", code)
		}
		if list := runs(); len(list) != 2 || list[0].OK || !strings.Contains(list[0].Message, "projection contributions") {
			t.Errorf("failed run: %+v", list[0])
		}
	})
}
