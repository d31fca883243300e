package custody_test

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"sirec/internal/custody"
	"sirec/internal/demo"
	"sirec/internal/store/storetest"
)

// BenchmarkBackupVerify measures backup and verify of a SQLite database of about 1,000,000 events (the demo
// dataset; SIREC_BENCH_EVENTS sets another size) against a plain copy of the database file on the same disk:
// MB/s of database file and events/s for each, and how many times a plain copy each takes. Backup is snapshot
// + pack + zstd + age + write; verify is read + hash + decrypt + decompress + restore into a scratch database +
// rebuild of the projections + store.Verify (a second full replay) + comparison of every table.
//
//	go test ./internal/custody/ -run '^$' -bench BackupVerify -benchtime 1x -timeout 60m
func BenchmarkBackupVerify(b *testing.B) {
	events := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SIREC_BENCH_EVENTS")); err == nil && v > 0 {
		events = v
	}
	ctx := context.Background()
	env := storetest.New(b, "sqlite")
	s := env.Store()
	// The demo records 6 years × 12 months × 3 insurance types per person, with registrations, enrolments and
	// retirees' benefits besides.
	if _, err := demo.Generate(ctx, s, demo.Options{Persons: max(1, events/195), Seed: 1}); err != nil {
		b.Fatal(err)
	}
	// Closing the last connection checkpoints the WAL into the database file, so that the file holds
	// everything and its size is the database's.
	s.Close()
	s = env.Store()
	cp, _, err := s.LatestCheckpoint(ctx)
	if err != nil {
		b.Fatal(err)
	}
	dbPath := strings.TrimPrefix(env.DSN, "sqlite:")
	var dbBytes int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(dbPath + suffix); err == nil {
			dbBytes += st.Size()
		}
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var backupNs, verifyNs, copyNs float64
	var stored int64
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		dest := (&url.URL{Scheme: "file", Path: filepath.Join(dir, "offsite"+strconv.Itoa(n))}).String()
		start := time.Now()
		res, err := custody.Backup(ctx, s.Driver(), dest, custody.BackupOptions{Keys: env.Keys, Recipients: []age.Recipient{id.Recipient()}})
		if err != nil {
			b.Fatal(err)
		}
		backupNs += float64(time.Since(start))
		stored = res.Manifest.StoredBytes()

		start = time.Now()
		rep, err := custody.Verify(ctx, res.URL, custody.VerifyOptions{Verifier: env.Keys.Verifier, Identities: []age.Identity{id}, ScratchDir: dir})
		if err != nil {
			b.Fatalf("%v\n%s", err, rep.Text())
		}
		verifyNs += float64(time.Since(start))

		start = time.Now()
		for _, suffix := range []string{"", "-wal"} {
			if _, err := os.Stat(dbPath + suffix); err == nil {
				if err := copyFile(dbPath+suffix, filepath.Join(dir, "plain-copy.db"+suffix)); err != nil {
					b.Fatal(err)
				}
			}
		}
		copyNs += float64(time.Since(start))
	}
	b.StopTimer()
	runs := float64(b.N)
	mb := float64(dbBytes) / 1e6
	b.ReportMetric(float64(cp.Size), "events")
	b.ReportMetric(mb, "db-MB")
	b.ReportMetric(float64(stored)/1e6, "backup-MB")
	b.ReportMetric(mb/(backupNs/runs/1e9), "backup-MB/s")
	b.ReportMetric(float64(cp.Size)/(backupNs/runs/1e9), "backup-events/s")
	b.ReportMetric(mb/(verifyNs/runs/1e9), "verify-MB/s")
	b.ReportMetric(float64(cp.Size)/(verifyNs/runs/1e9), "verify-events/s")
	b.ReportMetric(mb/(copyNs/runs/1e9), "copy-MB/s")
	b.ReportMetric(backupNs/copyNs, "backup/copy")
	b.ReportMetric(verifyNs/copyNs, "verify/copy")
}

// copyFile is the baseline: a plain copy of a database file to the same disk, synced as a backup is.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
