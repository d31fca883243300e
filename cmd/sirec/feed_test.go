package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sirec/internal/record"
	"sirec/internal/store/storetest"
)

func TestImportFeedCommand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		dir := t.TempDir()
		db := []string{"--db", env.DSN, "--keys", env.KeysDir, "--actor", "cli:tester", "--quiet"}
		id := func(n int) string {
			body := fmt.Sprintf("11010519850307%03d", n)
			return body + string(record.IDCheckChar(body))
		}
		st := env.Store()
		if _, err := st.Record(ctx, "test", []record.Fact{&record.PersonRegistered{PersonRef: record.PersonRef{IDNumber: id(1)}, Name: "张三",
			Region: "110105", RegisteredOn: "2015-01-01"}}); err != nil {
			t.Fatal(err)
		}
		write := func(name, text string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		run := func(args ...string) (string, string, error) {
			var out, errb bytes.Buffer
			err := importCommand(ctx, append([]string{"feed"}, append(args, db...)...), &out, &errb)
			return out.String(), errb.String(), err
		}
		// Every bad row on stderr, with its line, field and rule; nothing imported.
		bad := write("bad.csv", "id_number,name,event,date\n"+id(1)+",张三,birth,2024-01-01\n"+id(2)+",李四,death,2024-13-01\n")
		_, stderr, err := run("--kind", "civil_affairs", bad)
		if err == nil || !strings.Contains(err.Error(), "2 problems; nothing was imported") ||
			!strings.Contains(stderr, "line 2.event: event \"birth\" is not one of death (rule feed_event)") ||
			!strings.Contains(stderr, "line 3.date: \"2024-13-01\" is not a date written YYYY-MM-DD (rule date_format)") {
			t.Fatalf("bad file: %v\n%s", err, stderr)
		}
		good := write("deaths.csv", "id_number,name,event,date\n"+id(1)+",张三,death,2024-01-01\n")
		stdout, _, err := run("--kind", "civil_affairs", "--reconcile", good)
		if err != nil || !strings.Contains(stdout, "feed F000001 imported: 1 rows of civil_affairs from deaths.csv") ||
			!strings.Contains(stdout, "run R000001 of feed F000001") || !strings.Contains(stdout, "death_not_recorded") ||
			!strings.Contains(stdout, "work items (source feed:F000001): 1 new") {
			t.Fatalf("import: %v\n%s", err, stdout)
		}
		if _, _, err := run("--kind", "civil_affairs", good); err == nil || !strings.Contains(err.Error(), "imported already, as feed F000001") {
			t.Fatalf("second import: %v", err)
		}
		if _, _, err := run("--kind", "no_such_kind", good); err == nil || !strings.Contains(err.Error(), "feed_kind") {
			t.Fatalf("unknown kind: %v", err)
		}
		// Institutions from the command line.
		var out, errb bytes.Buffer
		code := "91110105MA0000005" + string(record.USCCCheckChar("91110105MA0000005"))
		if err := institutionCommand(ctx, append([]string{"add", "--kind", "bank", "--code", code, "--name", "某银行", "--agreement", "DF-1",
			"--until", "2099-12-31"}, db[:6]...), &out, &errb); err != nil || !strings.Contains(out.String(), "inst-"+strings.ToLower(code)) {
			t.Fatalf("institution add: %v\n%s", err, out.String())
		}
		out.Reset()
		if err := institutionCommand(ctx, append([]string{"token", code}, db[:6]...), &out, &errb); err != nil || !strings.HasPrefix(out.String(), "sirec_") ||
			!strings.Contains(errb.String(), "scope submit:bank") {
			t.Fatalf("institution token: %v\n%s\n%s", err, out.String(), errb.String())
		}
	})
}
