package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sirec/internal/demo"
	"sirec/internal/store/storetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sirec-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sirec")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run runs the binary and returns stdout, stderr and the exit code.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestCheckIdentifiers(t *testing.T) {
	tests := []struct {
		args []string
		out  string
		code int
	}{
		{[]string{"check", "id", "11010519491231002X"}, "valid\n", 0},
		{[]string{"check", "id", "11010519491231003X"}, "invalid: id: check character is X but the first 17 digits give", 1},
		{[]string{"check", "id", "1101051949123"}, "invalid: id: citizen ID number must have 18 characters", 1},
		{[]string{"check", "uscc", "91350100M000100Y43"}, "valid\n", 0},
		{[]string{"check", "uscc", "9144030071526726XG"}, "valid\n", 0},
		{[]string{"check", "uscc", "9144030071526726XH"}, "invalid: uscc: check character is H", 1},
		{[]string{"check", "uscc", "91440300715267I6XG"}, "rule gb32100_alphabet", 1},
	}
	for _, tc := range tests {
		out, _, code := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tc.args, code, out, tc.code, tc.out)
		}
	}
}

var okLine = regexp.MustCompile(`(?m)^ok events=(\d+) root=([0-9a-f]{64})\n\z`)

func TestInitDemoVerifyRebuild(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys") // a fresh agency: demo creates its own keys
		db := []string{"--db", env.DSN, "--keys", keys}
		out, errOut, code := run(t, "", append([]string{"demo", "--persons", "30", "--seed", "3", "--years", "2"}, db...)...)
		if code != 0 {
			t.Fatalf("demo: %d %s %s", code, out, errOut)
		}
		st, err := os.Stat(filepath.Join(keys, "checkpoint.key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("signing key: %v %v", st, err)
		}
		out, errOut, code = run(t, "", append([]string{"verify", "--quiet"}, db...)...)
		m := okLine.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("verify: exit %d\n%s\n%s", code, out, errOut)
		}
		root := m[2]
		if _, _, code := run(t, "", append([]string{"rebuild"}, db...)...); code != 0 {
			t.Fatal("rebuild failed")
		}
		out, _, code = run(t, "", append([]string{"verify", "--quiet"}, db...)...)
		if m2 := okLine.FindStringSubmatch(out); code != 0 || m2 == nil || m2[2] != root {
			t.Fatalf("verify after rebuild: %d %s", code, out)
		}
		// init refuses to overwrite the keys.
		if _, errOut, code := run(t, "", append([]string{"init"}, db...)...); code == 0 || !strings.Contains(errOut, "refusing to overwrite") {
			t.Fatalf("init over existing keys: %d %s", code, errOut)
		}
		// A direct edit is caught by the command, with a non-zero exit naming the row.
		env2 := env // same database
		env2.Raw("UPDATE contributions SET wage = wage + 100 WHERE seq = (SELECT MIN(seq) FROM contributions)")
		out, _, code = run(t, "", append([]string{"verify", "--quiet"}, db...)...)
		if code != 1 || !strings.Contains(out, "projection contributions: row seq=") {
			t.Fatalf("tampered verify: %d %s", code, out)
		}
	})
}

func TestServe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys")
		cmd := exec.Command(binary, "serve", "--demo", "--demo-persons", "20", "--db", env.DSN, "--keys", keys, "--addr", "127.0.0.1:0")
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		sc := bufio.NewScanner(stdout)
		var base string
		var printed strings.Builder
		deadline := time.Now().Add(2 * time.Minute)
		for base == "" && time.Now().Before(deadline) && sc.Scan() {
			printed.WriteString(sc.Text() + "\n")
			if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(sc.Text()); m != "" {
				base = m
			}
		}
		if base == "" {
			t.Fatal("serve printed no address")
		}
		// One demo user per post, printed with the password.
		for _, post := range []string{"collector", "initial_reviewer", "reviewer", "rechecker", "approver", "maintainer", "supervisor", "sysadmin", "dbadmin", "query"} {
			if !regexp.MustCompile(`(?m)^  ` + post + ` +` + DemoPassword).MatchString(printed.String()) {
				t.Fatalf("demo user %s not printed:\n%s", post, printed.String())
			}
		}
		login, _ := json.Marshal(map[string]string{"username": "query", "password": DemoPassword})
		resp0, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(login))
		if err != nil {
			t.Fatal(err)
		}
		var sess struct{ Token string }
		json.NewDecoder(resp0.Body).Decode(&sess)
		resp0.Body.Close()
		if sess.Token == "" {
			t.Fatalf("demo sign-in: %d", resp0.StatusCode)
		}
		post := func(path, body string) *http.Response {
			req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+sess.Token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		var health struct {
			Status string `json:"status"`
			Events int64  `json:"events"`
		}
		json.NewDecoder(resp.Body).Decode(&health)
		resp.Body.Close()
		if health.Status != "ok" || health.Events == 0 {
			t.Fatalf("health: %+v", health)
		}
		// The first demo person, found by ID number in the body (never in the URL).
		id := firstDemoID(t)
		if r, _ := http.Post(base+"/api/v1/persons/lookup", "application/json", strings.NewReader(`{"id_number":"`+id+`"}`)); r.StatusCode != 401 {
			t.Fatalf("lookup without credentials: %d", r.StatusCode)
		}
		resp = post("/api/v1/persons/lookup", `{"id_number":"`+id+`"}`)
		var view struct {
			IDMasked      string           `json:"id_number_masked"`
			Contributions []map[string]any `json:"contributions"`
		}
		json.NewDecoder(resp.Body).Decode(&view)
		resp.Body.Close()
		if resp.StatusCode != 200 || view.IDMasked != id[:6]+"********"+id[14:] {
			t.Fatalf("lookup: %d %+v", resp.StatusCode, view)
		}
		// Bad input: problem+json naming the field and rule.
		resp = post("/api/v1/persons/lookup", `{"id_number":"110105194912310021"}`)
		var prob struct {
			Field, Rule string
			Status      int
		}
		json.NewDecoder(resp.Body).Decode(&prob)
		resp.Body.Close()
		if resp.StatusCode != 422 || resp.Header.Get("Content-Type") != "application/problem+json" || prob.Field != "id_number" || prob.Rule != "gb11643_check" {
			t.Fatalf("bad lookup: %d %+v", resp.StatusCode, prob)
		}
		// The calculator over HTTP gives what the CLI gives.
		input, _ := os.ReadFile("testdata/calc/pension-reference-c/input.json")
		want, _ := os.ReadFile("testdata/calc/pension-reference-c/stdout")
		resp, err = http.Post(base+"/api/v1/calc/pension", "application/json", bytes.NewReader(input))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(got)+"\n" != string(want) {
			t.Fatalf("calc over HTTP: %d %s", resp.StatusCode, got)
		}
		resp, err = http.Post(base+"/api/v1/calc/pension", "application/json", strings.NewReader(`{"avg_wage":"5000.00"}`))
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&prob)
		resp.Body.Close()
		if resp.StatusCode != 422 || prob.Field == "" || prob.Rule == "" {
			t.Fatalf("bad calc input: %d %+v", resp.StatusCode, prob)
		}
	})
}

func firstDemoID(t *testing.T) string {
	t.Helper()
	return demo.IDNumber(1, 0)
}

func TestInitCreatesTheFirstAdministrator(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys")
		db := []string{"--db", env.DSN, "--keys", keys}
		if _, errOut, code := run(t, "short\n", append([]string{"init"}, db...)...); code == 0 || !strings.Contains(errOut, "password") {
			t.Fatalf("weak password accepted: %d %s", code, errOut)
		}
		if _, err := os.Stat(keys); err == nil {
			t.Fatal("keys were created although init was refused")
		}
		out, errOut, code := run(t, "correct horse 42\n", append([]string{"init", "--admin", "root1"}, db...)...)
		if code != 0 || !strings.Contains(out, "first system administrator: root1") {
			t.Fatalf("init: %d %s %s", code, out, errOut)
		}
		out, _, code = run(t, "", append([]string{"user", "list"}, db...)...)
		if code != 0 || !strings.Contains(out, "root1") || !strings.Contains(out, "sysadmin") {
			t.Fatalf("user list: %d %s", code, out)
		}
	})
}

func TestPortalAccountCommand(t *testing.T) {
	env := storetest.New(t, "sqlite")
	keys := filepath.Join(t.TempDir(), "keys")
	db := []string{"--db", env.DSN, "--keys", keys}
	if _, errOut, code := run(t, "", append([]string{"demo", "--persons", "5", "--years", "1"}, db...)...); code != 0 {
		t.Fatal(errOut)
	}
	id := demo.IDNumber(1, 2)
	out, errOut, code := run(t, "Portal-pass-42\n", append([]string{"portal", "add", "--kind", "person", "--id-number", id, "--username", "zhang.san"}, db...)...)
	if code != 0 || !strings.Contains(out, "zhang.san") || strings.Contains(out, id) {
		t.Fatalf("portal add: %d %q %s", code, out, errOut)
	}
	if _, errOut, code := run(t, "Portal-pass-42\n", append([]string{"portal", "add", "--kind", "person", "--id-number", id, "--username", "zhang.san"}, db...)...); code == 0 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("second account of the same name: %d %s", code, errOut)
	}
	if _, errOut, code := run(t, "Portal-pass-42\n", append([]string{"portal", "add", "--kind", "employer", "--credit-code", "91350100M000100Y43", "--username", "acme"}, db...)...); code == 0 || !strings.Contains(errOut, "subject") {
		t.Fatalf("unregistered employer: %d %s", code, errOut)
	}
}
