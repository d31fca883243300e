package sqlite

import (
	"context"
	"path/filepath"
	"testing"
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
