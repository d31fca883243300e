package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sirec/internal/store/storetest"
)

// TestCheckDataFilesWorkItems runs sirec check data twice on planted faults: the first run files them as work
// items, the second finds them again and files nothing new; progress goes to stderr.
func TestCheckDataFilesWorkItems(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys")
		db := []string{"--db", env.DSN, "--keys", keys}
		if out, errOut, code := run(t, "", append([]string{"demo", "--persons", "20", "--seed", "3", "--years", "2"}, db...)...); code != 0 {
			t.Fatalf("demo: %d %s %s", code, out, errOut)
		}
		out, errOut, code := run(t, "", append([]string{"check", "data", "--dry-run"}, db...)...)
		if code != 0 || !strings.Contains(out, "0 findings") || !strings.Contains(errOut, "check 1/10: missing_months") {
			t.Fatalf("clean data: %d\n%s\n%s", code, out, errOut)
		}
		env.Raw("UPDATE contributions SET base = 100 WHERE seq = (SELECT MIN(seq) FROM contributions)")
		out, errOut, code = run(t, "", append([]string{"check", "data", "--actor", "cli:tester"}, db...)...)
		if code != 1 || !strings.Contains(out, "base_out_of_range\thigh") || !strings.Contains(out, "run R000001 · work items 工作事项: 2 new 新增, 0 already open") ||
			!strings.Contains(errOut, "checks done: 10/10, 2 findings") {
			t.Fatalf("first run: %d\n%s\n%s", code, out, errOut)
		}
		out, _, code = run(t, "", append([]string{"check", "data", "--quiet"}, db...)...)
		if code != 1 || !strings.Contains(out, "run R000002 · work items 工作事项: 0 new 新增, 2 already open") {
			t.Fatalf("second run: %d\n%s", code, out)
		}
		if _, errOut, code := run(t, "", append([]string{"check", "data", "--only", "nonsense"}, db...)...); code == 0 || !strings.Contains(errOut, "check_name") {
			t.Fatalf("unknown check: %d %s", code, errOut)
		}
	})
}

// TestOutsideHelperCommands adds an outside helper, who stays disabled until a confidentiality agreement is filed.
func TestOutsideHelperCommands(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		dir := t.TempDir()
		db := []string{"--db", env.DSN, "--keys", filepath.Join(dir, "keys"), "--actor", "cli:tester"}
		if _, errOut, code := run(t, "", append([]string{"demo", "--persons", "2", "--years", "1"}, db[:4]...)...); code != 0 {
			t.Fatalf("demo: %s", errOut)
		}
		user := func(args ...string) (string, string, int) {
			t.Helper()
			return run(t, "Vendor pass 2026\n", append(append([]string{"user"}, args...), db...)...)
		}
		out, errOut, code := user("add", "vendor1", "--name", "外包工程师", "--post", "maintainer", "--external")
		if code != 0 || !strings.Contains(out, "disabled until a confidentiality agreement is on file") {
			t.Fatalf("add: %d\n%s\n%s", code, out, errOut)
		}
		if _, errOut, code := user("enable", "vendor1"); code == 0 || !strings.Contains(errOut, "confidentiality_agreement") {
			t.Fatalf("enabled without an agreement: %d %s", code, errOut)
		}
		if _, errOut, code := user("grant", "vendor1", "approver"); code == 0 || !strings.Contains(errOut, "external_reviewer") {
			t.Fatalf("an outside helper was made an approver: %d %s", code, errOut)
		}
		doc := filepath.Join(dir, "保密协议.pdf")
		if err := os.WriteFile(doc, []byte("%PDF signed agreement"), 0o600); err != nil {
			t.Fatal(err)
		}
		today := time.Now().Format("2006-01-02")
		if _, errOut, code := user("agreement", "add", "vendor1", "--file", doc, "--signed", today, "--expires", "2001-01-01"); code == 0 || !strings.Contains(errOut, "expires_on") {
			t.Fatalf("expired agreement: %d %s", code, errOut)
		}
		out, errOut, code = user("agreement", "add", "vendor1", "--file", doc, "--signed", today, "--expires", "2099-12-31")
		if code != 0 || !strings.Contains(out, "valid until 2099-12-31") || !strings.Contains(out, "sirec user enable vendor1") {
			t.Fatalf("agreement: %d\n%s\n%s", code, out, errOut)
		}
		if out, errOut, code := user("enable", "vendor1"); code != 0 {
			t.Fatalf("enable: %d %s %s", code, out, errOut)
		}
		out, _, _ = user("agreement", "list", "vendor1")
		if !strings.Contains(out, "in force 有效") || !strings.Contains(out, "保密协议.pdf") {
			t.Fatalf("list:\n%s", out)
		}
		out, _, _ = user("list")
		if !strings.Contains(out, "external 外部, agreement until 协议至 2099-12-31") {
			t.Fatalf("user list:\n%s", out)
		}
		// Marking a staff member external without an agreement disables them at once.
		if _, errOut, code := run(t, "Clerk pass 2026\n", append([]string{"user", "add", "clerk1", "--name", "王芳", "--post", "collector"}, db...)...); code != 0 {
			t.Fatal(errOut)
		}
		if out, _, code := user("external", "clerk1", "yes"); code != 0 || !strings.Contains(out, "the user is disabled") {
			t.Fatalf("mark external: %d %s", code, out)
		}
	})
}
