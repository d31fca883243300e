package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"sirec/internal/store/storetest"
)

var backupURLLine = regexp.MustCompile(`(?m)^(file:///\S+/sirec-110101-\d{8}T\d{9}Z-\d+)\n\z`)

func TestBackupVerifyRestoreMigrateCommands(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys")
		db := []string{"--db", env.DSN, "--keys", keys}
		if out, errOut, code := run(t, "", append([]string{"demo", "--persons", "15", "--seed", "4", "--years", "1"}, db...)...); code != 0 {
			t.Fatalf("demo: %d %s %s", code, out, errOut)
		}
		out, _, _ := run(t, "", append([]string{"verify", "--quiet"}, db...)...)
		m := okLine.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("verify: %s", out)
		}
		events, root := m[1], m[2]
		dest := (&url.URL{Scheme: "file", Path: filepath.Join(t.TempDir(), "offsite")}).String()

		// No backup key yet: the command says how to make one.
		if _, errOut, code := run(t, "", append([]string{"backup", "--to", dest}, db...)...); code != 1 || !strings.Contains(errOut, "sirec backup keygen") {
			t.Fatalf("backup without a recipient: %d %s", code, errOut)
		}
		out, _, code := run(t, "", "backup", "keygen", "--keys", keys)
		if code != 0 || !strings.HasPrefix(out, "age1") {
			t.Fatalf("keygen: %d %s", code, out)
		}
		if st, err := os.Stat(filepath.Join(keys, "backup.key")); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("backup.key: %v %v", st, err)
		}
		if _, errOut, code := run(t, "", "backup", "keygen", "--keys", keys); code == 0 || !strings.Contains(errOut, "refusing to overwrite") {
			t.Fatalf("keygen over a key: %d %s", code, errOut)
		}
		// A bad destination is named.
		if _, errOut, code := run(t, "", append([]string{"backup", "--to", "ftp://x"}, db...)...); code != 1 || !strings.Contains(errOut, "to:") {
			t.Fatalf("bad destination: %d %s", code, errOut)
		}

		// The last line printed is the backup's URL.
		out, errOut, code := run(t, "", append([]string{"backup", "--quiet", "--to", dest}, db...)...)
		bm := backupURLLine.FindStringSubmatch(out)
		if code != 0 || bm == nil || !strings.Contains(out, "journal") || !strings.Contains(out, "encrypted to age1") {
			t.Fatalf("backup: %d\n%s\n%s", code, out, errOut)
		}
		backup := bm[1]
		if !strings.Contains(out, events+" events, root "+root) {
			t.Fatalf("backup summary does not name the checkpoint %s %s:\n%s", events, root, out)
		}
		out, _, code = run(t, "", "backup", "list", "--to", dest)
		if code != 0 || strings.TrimSpace(out) != backup {
			t.Fatalf("list: %d %s", code, out)
		}

		// verify: exit 0 with the report, its last line the journal's.
		out, _, code = run(t, "", "backup", "verify", backup, "--keys", keys, "--quiet")
		if code != 0 || !strings.HasSuffix(out, "ok events="+events+" root="+root+"\n") || !strings.Contains(out, "figures") {
			t.Fatalf("backup verify: %d\n%s", code, out)
		}
		// One flipped byte: refused, exit 1, the part named.
		part := filepath.Join(strings.TrimPrefix(backup, "file://"), "journal.part.zst.age")
		orig, err := os.ReadFile(part)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte(nil), orig...)
		bad[len(bad)/2] ^= 0x80
		os.WriteFile(part, bad, 0o600)
		out, _, code = run(t, "", "backup", "verify", backup, "--keys", keys, "--quiet")
		if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "part journal") || !strings.Contains(out, "SHA-256") {
			t.Fatalf("verify of a changed part: %d\n%s", code, out)
		}
		os.WriteFile(part, orig, 0o600)
		// A wrong identity: refused, naming the recipients it was encrypted to.
		other := filepath.Join(t.TempDir(), "other")
		run(t, "", "backup", "keygen", "--keys", other)
		out, _, code = run(t, "", "backup", "verify", backup, "--keys", keys, "--identity", filepath.Join(other, "backup.key"), "--quiet")
		if code != 1 || !strings.Contains(out, "wrong key") {
			t.Fatalf("verify with a wrong key: %d\n%s", code, out)
		}

		// restore into an empty database of the same engine; refused over data unless --force.
		target := storetest.New(t, env.Engine)
		tdb := []string{"--db", target.DSN, "--keys", keys}
		out, _, code = run(t, "", append([]string{"restore", backup, "--quiet"}, tdb...)...)
		if code != 0 || !strings.HasSuffix(out, "ok events="+events+" root="+root+"\n") {
			t.Fatalf("restore: %d\n%s", code, out)
		}
		out, _, code = run(t, "", append([]string{"verify", "--quiet"}, tdb...)...)
		if m := okLine.FindStringSubmatch(out); code != 0 || m == nil || m[2] != root {
			t.Fatalf("verify of the restored database: %d %s", code, out)
		}
		out, _, code = run(t, "", append([]string{"restore", backup, "--quiet"}, tdb...)...)
		if code != 1 || !strings.Contains(out, "not empty") || !strings.Contains(out, "--force") {
			t.Fatalf("restore over data: %d\n%s", code, out)
		}
		out, errOut, code = run(t, "", append([]string{"restore", backup, "--quiet", "--force"}, tdb...)...)
		if code != 0 || !strings.Contains(errOut, "discarding everything") || !strings.HasSuffix(out, "root="+root+"\n") {
			t.Fatalf("restore --force: %d\n%s\n%s", code, out, errOut)
		}

		// migrate to the other engine: same root; the source still verifies.
		otherEngine := map[string]string{"sqlite": "postgres", "postgres": "sqlite"}[env.Engine]
		dst := storetest.New(t, otherEngine)
		out, _, code = run(t, "", "migrate", "--from", env.DSN, "--to", dst.DSN, "--keys", keys, "--quiet")
		if code != 0 || !strings.HasSuffix(out, "ok events="+events+" root="+root+"\n") || !strings.Contains(out, "persons' whole records identical") {
			t.Fatalf("migrate %s → %s: %d\n%s", env.Engine, otherEngine, code, out)
		}
		out, _, code = run(t, "", "verify", "--quiet", "--db", dst.DSN, "--keys", keys)
		if m := okLine.FindStringSubmatch(out); code != 0 || m == nil || m[2] != root {
			t.Fatalf("verify of the migrated database: %d %s", code, out)
		}
		out, _, code = run(t, "", append([]string{"verify", "--quiet"}, db...)...)
		if m := okLine.FindStringSubmatch(out); code != 0 || m == nil || m[2] != root {
			t.Fatalf("the source after migrate: %d %s", code, out)
		}
		if _, errOut, code := run(t, "", "migrate", "--from", env.DSN, "--to", env.DSN, "--keys", keys); code != 1 || !strings.Contains(errOut, "same database") {
			t.Fatalf("migrate onto itself: %d %s", code, errOut)
		}
	})
}

func TestServeRunsScheduledBackupsAndDrills(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		keys := filepath.Join(t.TempDir(), "keys")
		if _, errOut, code := run(t, "", "backup", "keygen", "--keys", keys); code != 0 {
			t.Fatalf("keygen: %s", errOut)
		}
		dest := (&url.URL{Scheme: "file", Path: filepath.Join(t.TempDir(), "offsite")}).String()
		// A bad schedule is refused before serving, naming the flag.
		if _, errOut, code := run(t, "", "serve", "--db", env.DSN, "--keys", keys, "--addr", "127.0.0.1:0", "--backup-to", dest, "--backup-keep", "0"); code != 1 || !strings.Contains(errOut, "backup-keep") {
			t.Fatalf("serve with --backup-keep 0: %d %s", code, errOut)
		}
		cmd := exec.Command(binary, "serve", "--demo", "--demo-persons", "8", "--db", env.DSN, "--keys", keys, "--addr", "127.0.0.1:0",
			"--backup-to", dest, "--backup-every", "1h", "--backup-keep", "3", "--drill-every", "1h")
		stdout, _ := cmd.StdoutPipe()
		var logs syncBuffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		base := serveAddress(t, stdout)
		token := apiLogin(t, base, "dbadmin")
		deadline := time.Now().Add(2 * time.Minute)
		var st struct {
			Status struct {
				LastGoodBackup *struct{ URL string } `json:"last_good_backup"`
				LastGoodDrill  *struct{ URL string } `json:"last_good_drill"`
				Schedule       *struct{ To string }  `json:"schedule"`
				Alerts         []string              `json:"alerts"`
			} `json:"status"`
		}
		for time.Now().Before(deadline) {
			req, _ := http.NewRequest("GET", base+"/api/v1/custody", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if st.Status.LastGoodDrill != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if st.Status.LastGoodBackup == nil || st.Status.LastGoodDrill == nil || st.Status.Schedule == nil || st.Status.Schedule.To != dest || len(st.Status.Alerts) != 0 {
			t.Fatalf("custody status %+v\nlogs:\n%s", st.Status, logs.String())
		}
		if !strings.HasPrefix(st.Status.LastGoodBackup.URL, dest+"/sirec-") || !strings.Contains(logs.String(), "custody: backup taken") || !strings.Contains(logs.String(), "custody: restore drill passed") {
			t.Fatalf("backup %+v\nlogs:\n%s", st.Status.LastGoodBackup, logs.String())
		}
	})
}

// serveAddress reads serve's stdout until it prints its address.
func serveAddress(t *testing.T, stdout io.Reader) string {
	t.Helper()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(sc.Text()); m != "" {
			go io.Copy(io.Discard, stdout)
			return m
		}
	}
	t.Fatal("serve printed no address")
	return ""
}

// apiLogin signs a demo user in over the API and returns the token.
func apiLogin(t *testing.T, base, user string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": DemoPassword})
	resp, err := http.Post(base+"/api/v1/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&s)
	if s.Token == "" {
		t.Fatalf("sign in as %s: %d", user, resp.StatusCode)
	}
	return s.Token
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
