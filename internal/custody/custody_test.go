package custody_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"sirec/internal/auth"
	"sirec/internal/custody"
	"sirec/internal/demo"
	"sirec/internal/record"
	"sirec/internal/review"
	"sirec/internal/store"
	"sirec/internal/store/storetest"
)

// fixture is a database with a little of everything a backup carries: demo records (registrations,
// contributions, benefits, rule-derived figures), a staff user, an original material and a query log entry.
type fixture struct {
	env     *storetest.Env
	s       *store.Store
	persons []string
	sha     string
}

func newFixture(t *testing.T, env *storetest.Env) *fixture {
	t.Helper()
	ctx := context.Background()
	s := env.Store()
	if _, err := demo.Generate(ctx, s, demo.Options{Persons: 12, Seed: 5, FromYear: 2023, Years: 1}); err != nil {
		t.Fatal(err)
	}
	users := auth.New(s.Driver(), auth.DefaultConfig())
	if _, err := users.AddUser(ctx, auth.NewUser{Username: "wang", DisplayName: "王经办", Password: "correct horse 42", Posts: []auth.Post{auth.PostCollector}}, "test", time.Now()); err != nil {
		t.Fatal(err)
	}
	sha, err := review.New(s).AddMaterial(ctx, []byte("扫描件 scan of a registration form"))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, s.Driver(), "INSERT INTO query_log (at, actor_kind, actor, person, page, fields, purpose) VALUES ($1, 'staff', 'wang', 'p1', 'console/person', 'all', 'counter')", time.Now().UnixMilli())
	persons, err := s.PersonKeys(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{env: env, s: s, persons: persons, sha: sha}
}

func exec(t *testing.T, d store.Driver, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	tx, err := d.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// records returns every person's whole record as JSON, as the store's rebuild test compares them.
func records(t *testing.T, s *store.Store, persons []string) string {
	t.Helper()
	var b strings.Builder
	for _, p := range persons {
		v, err := s.PersonRecord(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(v)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func fileDest(t *testing.T) string {
	return (&url.URL{Scheme: "file", Path: filepath.Join(t.TempDir(), "offsite")}).String()
}

func backup(t *testing.T, f *fixture, dest string, rs ...age.Recipient) custody.BackupResult {
	t.Helper()
	res, err := custody.Backup(context.Background(), f.s.Driver(), dest, custody.BackupOptions{Keys: f.env.Keys, Recipients: rs})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res
}

func TestBackupVerifyRestore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		id := newIdentity(t)
		dest := fileDest(t)
		res := backup(t, f, dest, id.Recipient())
		if !strings.HasPrefix(res.URL, dest+"/sirec-110105-") {
			t.Fatalf("backup URL %s is not under %s", res.URL, dest)
		}
		cp, _, err := f.s.LatestCheckpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Manifest
		if m.Size != int64(cp.Size) || m.Root != fmt.Sprintf("%x", cp.Root) || m.Figures["persons"] != int64(len(f.persons)) || m.Figures["contributions.account_credit"] == 0 {
			t.Fatalf("manifest: size %d root %s figures %v; checkpoint %d %x", m.Size, m.Root, m.Figures, cp.Size, cp.Root)
		}
		var names []string
		for _, p := range m.Parts {
			names = append(names, p.Name)
		}
		if strings.Join(names, ",") != "journal,projections,materials,state" {
			t.Fatalf("parts %v", names)
		}
		if _, ok := m.Table("custody_runs"); ok {
			t.Fatal("the custody log was backed up")
		}

		// verify: a full restore into a scratch database, proven.
		rep, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}})
		if err != nil {
			t.Fatalf("verify: %v\n%s", err, rep.Text())
		}
		text := rep.Text()
		if !strings.Contains(text, fmt.Sprintf("ok events=%d root=%x", cp.Size, cp.Root)) || !strings.Contains(text, "projections") || !strings.Contains(text, "contributions.account_credit ") {
			t.Fatalf("report:\n%s", text)
		}

		// restore into an empty database on each engine: the same records, the same journal root.
		for _, engine := range []string{"sqlite", "postgres"} {
			t.Run("into "+engine, func(t *testing.T) {
				target := storetest.New(t, engine)
				target.Keys = env.Keys // the same agency
				d := target.Driver()
				rep, err := custody.Restore(ctx, res.URL, d, custody.RestoreOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}})
				if err != nil {
					t.Fatalf("restore: %v\n%s", err, rep.Text())
				}
				s2 := target.Store()
				if got, want := records(t, s2, f.persons), records(t, f.s, f.persons); got != want {
					t.Fatal("restored records differ from the source's")
				}
				cp2, _, err := s2.LatestCheckpoint(ctx)
				if err != nil || !cp2.Equal(cp) {
					t.Fatalf("restored checkpoint %+v %v, want %+v", cp2, err, cp)
				}
				if b, err := review.New(s2).ReadMaterial(ctx, f.sha); err != nil || !strings.Contains(string(b), "扫描件") {
					t.Fatalf("material: %q %v", b, err)
				}
				users := auth.New(d, auth.DefaultConfig())
				if _, err := users.Login(ctx, "wang", "correct horse 42", time.Now()); err != nil {
					t.Fatalf("restored user cannot sign in: %v", err)
				}
				// Sequences continue after the restored rows; the journal is still append-only.
				exec(t, d, "INSERT INTO query_log (at, actor_kind, actor, person, page, fields, purpose) VALUES (1, 'staff', 'wang', 'p2', 'x', 'y', 'counter')")
				for _, q := range []string{"UPDATE journal_events SET body = leaf_hash WHERE seq = 1", "DELETE FROM journal_checkpoints"} {
					tx, _ := d.Begin(ctx, true)
					_, err := tx.Exec(ctx, q)
					tx.Rollback(ctx)
					if err == nil {
						t.Fatalf("the restored journal accepts %q", q)
					}
				}
				// The service appends on, after the restored journal.
				if _, err := s2.Record(ctx, "test:after-restore", []record.Fact{&record.EmployerRegistered{CreditCode: "91350100M000100Y43", IndustryClass: 1,
					Name: "恢复后单位", Region: "350100", RegisteredOn: "2020-01-01"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := store.Verify(ctx, d, env.Keys.Verifier, store.DefaultRules(), nil); err != nil {
					t.Fatal(err)
				}
				// A database holding anything is refused, and left as it was; --force replaces it.
				_, err = custody.Restore(ctx, res.URL, d, custody.RestoreOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}})
				if !errors.Is(err, store.ErrNotEmpty) || !strings.Contains(err.Error(), "journal_events") || !strings.Contains(err.Error(), "--force") {
					t.Fatalf("restore over data: %v", err)
				}
				if cp3, _, _ := s2.LatestCheckpoint(ctx); cp3.Size != cp.Size+1 {
					t.Fatalf("a refused restore changed the target: size %d", cp3.Size)
				}
				rep, err = custody.Restore(ctx, res.URL, d, custody.RestoreOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}, Force: true})
				if err != nil {
					t.Fatalf("restore --force: %v\n%s", err, rep.Text())
				}
				if cp3, _, _ := target.Store().LatestCheckpoint(ctx); !cp3.Equal(cp) {
					t.Fatalf("after --force the checkpoint is %+v", cp3)
				}
			})
		}
	})
}

func TestBackupDuringConcurrentWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		id := newIdentity(t)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var batches atomic.Int64
		var writeErr atomic.Value
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var facts []record.Fact
				for j := 0; j < 200; j++ {
					facts = append(facts, &record.OtherRecorded{PersonRef: record.PersonRef{Person: f.persons[j%len(f.persons)]}, Kind: "note",
						Attributes: map[string]string{"n": fmt.Sprint(i*200 + j)}})
				}
				if _, err := f.s.Record(ctx, "test:concurrent", facts); err != nil {
					writeErr.Store(err)
					return
				}
				batches.Add(1)
			}
		}()
		for batches.Load() < 2 {
			time.Sleep(10 * time.Millisecond)
		}
		var results []custody.BackupResult
		for i := 0; i < 2; i++ {
			results = append(results, backup(t, f, fileDest(t), id.Recipient()))
		}
		close(stop)
		wg.Wait()
		if err, _ := writeErr.Load().(error); err != nil {
			t.Fatal(err)
		}
		after, _, _ := f.s.LatestCheckpoint(ctx)
		for _, res := range results {
			if res.Manifest.Size == 0 || res.Manifest.Size >= int64(after.Size) {
				t.Fatalf("backup covers %d events; writes went on to %d", res.Manifest.Size, after.Size)
			}
			rep, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}})
			if err != nil || rep.Events != res.Manifest.Size {
				t.Fatalf("a backup taken during writes does not verify: %v\n%s", err, rep.Text())
			}
		}
	})
}

// objectPath returns the file of a backup's object, for tampering.
func objectPath(t *testing.T, backupURL, object string) string {
	t.Helper()
	u, err := url.Parse(backupURL)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(u.Path, object)
}

func flipByte(t *testing.T, path string, at func(size int) int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at(len(b))] ^= 0x01
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedBackupsAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		id := newIdentity(t)
		dest := fileDest(t)
		res := backup(t, f, dest, id.Recipient())
		pristine := map[string][]byte{}
		dir := objectPath(t, res.URL, "")
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			pristine[e.Name()] = b
		}
		restoreFiles := func() {
			for n, b := range pristine {
				os.WriteFile(filepath.Join(dir, n), b, 0o600)
			}
		}
		type tamper struct {
			name string
			do   func()
			ids  []age.Identity
			want error
			msg  string
		}
		var cases []tamper
		for _, p := range res.Manifest.Parts {
			for _, where := range []struct {
				name string
				at   func(int) int
			}{{"header", func(int) int { return 40 }}, {"middle", func(n int) int { return n / 2 }}, {"last byte", func(n int) int { return n - 1 }}} {
				cases = append(cases, tamper{"flip a byte of part " + p.Name + " (" + where.name + ")", func() { flipByte(t, filepath.Join(dir, p.Object), where.at) },
					nil, custody.ErrChecksumMismatch, "part " + p.Name})
			}
		}
		cases = append(cases,
			tamper{"flip a byte of the manifest's text", func() { flipByte(t, filepath.Join(dir, "manifest"), func(n int) int { return n / 3 }) }, nil, custody.ErrManifest, "manifest"},
			tamper{"flip a byte of the manifest's signature", func() { flipByte(t, filepath.Join(dir, "manifest"), func(n int) int { return n - 10 }) }, nil, custody.ErrManifest, "manifest"},
			tamper{"remove the journal part", func() { os.Remove(filepath.Join(dir, "journal.part.zst.age")) }, nil, custody.ErrMissingPart, "journal"},
			tamper{"remove the materials part", func() { os.Remove(filepath.Join(dir, "materials.part.zst.age")) }, nil, custody.ErrMissingPart, "materials"},
			tamper{"cut a part short", func() {
				p := filepath.Join(dir, "state.part.zst.age")
				b, _ := os.ReadFile(p)
				os.WriteFile(p, b[:len(b)-100], 0o600)
			}, nil, custody.ErrChecksumMismatch, "state"},
			tamper{"remove the manifest", func() { os.Remove(filepath.Join(dir, "manifest")) }, nil, custody.ErrNoBackup, "manifest is missing"},
			tamper{"a wrong age key", func() {}, []age.Identity{newIdentity(t)}, custody.ErrWrongKey, id.Recipient().String()},
		)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				defer restoreFiles()
				tc.do()
				ids := tc.ids
				if ids == nil {
					ids = []age.Identity{id}
				}
				rep, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: ids})
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("want %v naming %q, got %v", tc.want, tc.msg, err)
				}
				if rep.OK() || !strings.Contains(rep.Text(), "FAIL") {
					t.Fatalf("the report passes a tampered backup:\n%s", rep.Text())
				}
			})
		}
		// A backup of another agency (signed with another key) is refused by this agency's verifier.
		other := storetest.New(t, "sqlite").Keys
		_, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: other.Verifier, Identities: []age.Identity{id}})
		if !errors.Is(err, custody.ErrManifest) {
			t.Fatalf("another agency's key: %v", err)
		}
		// Untouched, it verifies.
		if rep, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}}); err != nil {
			t.Fatalf("%v\n%s", err, rep.Text())
		}
	})
}

func TestRestoreFailsCleanOnATamperedPart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		f := newFixture(t, env)
		id := newIdentity(t)
		res := backup(t, f, fileDest(t), id.Recipient())
		flipByte(t, objectPath(t, res.URL, "state.part.zst.age"), func(n int) int { return n / 2 })
		target := storetest.New(t, env.Engine)
		d := target.Driver()
		if _, err := custody.Restore(ctx, res.URL, d, custody.RestoreOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}}); !errors.Is(err, custody.ErrChecksumMismatch) {
			t.Fatalf("restore of a changed part: %v", err)
		}
		// Nothing of it was kept: the journal part, read before the bad one, was rolled back with it.
		occ, err := store.Occupied(ctx, d)
		if err != nil || len(occ) != 0 {
			t.Fatalf("a failed restore left rows: %v %v", occ, err)
		}
	})
}

func TestMigrateBothWays(t *testing.T) {
	ctx := context.Background()
	src := storetest.New(t, "sqlite")
	f := newFixture(t, src)
	pg := storetest.New(t, "postgres")
	pg.Keys = src.Keys
	back := storetest.New(t, "sqlite")
	back.Keys = src.Keys
	want := records(t, f.s, f.persons)
	before, err := store.Verify(ctx, f.s.Driver(), src.Keys.Verifier, store.DefaultRules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	counts := func(d store.Driver) map[string]int64 {
		occ, err := store.Occupied(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return occ
	}
	srcCounts := counts(f.s.Driver())

	for _, step := range []struct {
		name     string
		from, to *storetest.Env
	}{{"sqlite to postgres", src, pg}, {"postgres to sqlite", pg, back}} {
		from, to := step.from.Driver(), step.to.Driver()
		rep, err := custody.Migrate(ctx, from, to, custody.MigrateOptions{Keys: src.Keys})
		if err != nil {
			t.Fatalf("%s: %v\n%s", step.name, err, rep.Text())
		}
		if rep.Root != before.RootHex() || rep.Events != before.Events || !strings.Contains(rep.Text(), fmt.Sprintf("%d persons' whole records identical", len(f.persons))) {
			t.Fatalf("%s: report\n%s", step.name, rep.Text())
		}
		if got := records(t, step.to.Store(), f.persons); got != want {
			t.Fatalf("%s: records differ", step.name)
		}
		// The source is untouched and still verifies with the same root.
		again, err := store.Verify(ctx, from, src.Keys.Verifier, store.DefaultRules(), nil)
		if err != nil || again.RootHex() != before.RootHex() {
			t.Fatalf("%s: the source no longer verifies: %v", step.name, err)
		}
		if fmt.Sprint(counts(from)) != fmt.Sprint(srcCounts) {
			t.Fatalf("%s: the source changed: %v → %v", step.name, srcCounts, counts(from))
		}
		// A destination holding data is refused.
		if _, err := custody.Migrate(ctx, from, to, custody.MigrateOptions{Keys: src.Keys}); !errors.Is(err, store.ErrNotEmpty) {
			t.Fatalf("%s: migrate over data: %v", step.name, err)
		}
	}
}
