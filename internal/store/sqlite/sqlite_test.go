package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewDatabaseHasThePageSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	tx, err := d.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	var size int
	var mode string
	if err := tx.QueryRow(ctx, "PRAGMA page_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if size != pageSize || mode != "wal" {
		t.Fatalf("page size %d, journal mode %s", size, mode)
	}
}

// TestCheckpointsRunInTheBackground shows that a commit does not copy the WAL into the database file itself
// (the writer's automatic checkpoint is off) and that the background checkpointer does, soon after.
func TestCheckpointsRunInTheBackground(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	var auto int
	tx, err := d.Begin(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, "PRAGMA wal_autocheckpoint").Scan(&auto); err != nil || auto != 0 {
		t.Fatalf("writer's wal_autocheckpoint = %d (%v), want 0", auto, err)
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE t (x BLOB)"); err != nil {
		t.Fatal(err)
	}
	// 2,000 rows of 16 KiB: well past the 1,000 pages at which SQLite would checkpoint inside the commit.
	for i := 0; i < 2000; i++ {
		if _, err := tx.Exec(ctx, "INSERT INTO t VALUES (randomblob(16384))"); err != nil {
			t.Fatal(err)
		}
	}
	before := fileSize(t, path)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for fileSize(t, path) < 2000*16384 {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes (%d before the commit): no background checkpoint", fileSize(t, path), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.CheckpointErr(); err != nil {
		t.Fatal(err)
	}
	// An explicit checkpoint returns once everything committed is in the database file.
	if err := d.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
