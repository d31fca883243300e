package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sirec/internal/pdf"
	"sirec/internal/store/storetest"
)

var statementsLine = regexp.MustCompile(`(?m)^statements year=2019 run=(\d+) persons=(\d+) issued=(\d+) seconds=[0-9.]+\n\z`)

// TestStatementsAndQueryLogCommands runs the yearly statement job and the query log's verify, seal and export
// as an operator would.
func TestStatementsAndQueryLogCommands(t *testing.T) {
	env := storetest.New(t, "sqlite")
	keys := filepath.Join(t.TempDir(), "keys")
	db := []string{"--db", env.DSN, "--keys", keys}
	if _, errOut, code := run(t, "", append([]string{"demo", "--persons", "6", "--years", "1"}, db...)...); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := run(t, "", append([]string{"statements", "--year", "2099"}, db...)...); code == 0 || !strings.Contains(errOut, "statement_year") {
		t.Errorf("a year not over: %d %s", code, errOut)
	}
	args := append([]string{"statements", "--year", "2019"}, db...)
	if _, err := pdf.LoadFonts("", ""); err == nil {
		args = append(args, "--out", t.TempDir())
	} else if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "", args...)
	m := statementsLine.FindStringSubmatch(out)
	if code != 0 || m == nil || m[2] != "6" || m[3] != "6" || !strings.Contains(errOut, "6 / 6 persons") {
		t.Fatalf("statements: %d\n%s\n%s", code, out, errOut)
	}
	if len(args) > 6 {
		files, _ := filepath.Glob(filepath.Join(args[len(args)-1], "2019", "*.pdf"))
		if len(files) != 6 {
			t.Errorf("%d PDF files", len(files))
		}
	}
	// Again: everyone holds a statement of the year already.
	out, _, code = run(t, "", append([]string{"statements", "--year", "2019", "--quiet"}, db...)...)
	if m := statementsLine.FindStringSubmatch(out); code != 0 || m == nil || m[3] != "0" {
		t.Fatalf("second run: %d %s", code, out)
	}

	// The query log: empty, then rows written by an earlier sirec, sealed, verified, changed behind its back.
	out, _, code = run(t, "", append([]string{"querylog", "verify"}, db...)...)
	if code != 0 || !strings.HasPrefix(out, "ok entries=0 ") {
		t.Fatalf("verify empty: %d %s", code, out)
	}
	for _, who := range []string{"a", "b"} {
		env.Raw("INSERT INTO query_log (at, actor_kind, actor, person, page, fields, purpose) VALUES (1, 'staff', '" + who + "', 'p', 'console/person', 'all', 'counter')")
	}
	if out, _, code = run(t, "", append([]string{"querylog", "seal"}, db...)...); code != 0 || !strings.HasPrefix(out, "sealed entries=2 ") {
		t.Fatalf("seal: %d %s", code, out)
	}
	if out, _, code = run(t, "", append([]string{"querylog", "verify"}, db...)...); code != 0 || !strings.Contains(out, "ok entries=2 ") || !strings.Contains(out, "sealed=2") {
		t.Fatalf("verify: %d %s", code, out)
	}
	if out, _, code = run(t, "", append([]string{"querylog", "export", "--format", "csv", "--actor", "b"}, db...)...); code != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("export: %d %q", code, out)
	}
	env.Raw("UPDATE query_log SET actor = 'c' WHERE actor = 'b'")
	if out, _, code = run(t, "", append([]string{"querylog", "verify"}, db...)...); code != 1 || !strings.HasPrefix(out, "FAIL ") {
		t.Fatalf("tampered: %d %s", code, out)
	}
}
