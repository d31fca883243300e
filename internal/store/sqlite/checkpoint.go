package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sync"

	sqlite3 "github.com/mattn/go-sqlite3"
)

// writerDriver is mattn/go-sqlite3 with automatic WAL checkpoints switched off on every connection it opens.
// The writer connection uses it: SQLite's automatic checkpoint runs inside the COMMIT of whichever
// transaction pushes the WAL past 1,000 pages, so a large batch would wait, after its data is safely in the
// WAL, while the WAL is copied into the database file and synced. The checkpointer below does that work on a
// connection of its own after each commit instead, while the caller goes on.
const writerDriver = "sqlite3-sirec-writer"

func init() {
	sql.Register(writerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA wal_autocheckpoint = 0", nil)
		return err
	}})
}

// walLimit is the WAL size past which the checkpointer, instead of a passive checkpoint that never waits,
// runs one that waits for the writer and then truncates the WAL, so that a steady stream of writes cannot
// grow it without bound.
const walLimit = 512 << 20

// checkpointer copies committed WAL frames into the database file in the background. Each commit of the
// writer kicks it; kicks that arrive while it works are merged into one more round.
type checkpointer struct {
	path string
	db   *sql.DB
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex // held while a checkpoint runs
	err  error      // the last round's error, nil after a good round

	closeOnce sync.Once
	closeErr  error
}

func startCheckpointer(path string) (*checkpointer, error) {
	db, err := sql.Open("sqlite3", dsn(path, "deferred"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{path: path, db: db, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// kick asks for a checkpoint soon; it never blocks.
func (c *checkpointer) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
			c.round(context.Background())
		}
	}
}

// round runs one checkpoint: passive, or truncating when the WAL has grown past walLimit.
func (c *checkpointer) round(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	mode := "PASSIVE"
	if fi, err := os.Stat(c.path + "-wal"); err == nil && fi.Size() > walLimit {
		mode = "TRUNCATE"
	}
	var busy, log, done int
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &done)
	if err != nil {
		err = fmt.Errorf("WAL checkpoint of %s: %w", c.path, err)
	}
	c.err = err
	return err
}

// close stops the checkpointer after a last, truncating checkpoint. Closing again does nothing.
func (c *checkpointer) close() error {
	c.closeOnce.Do(func() {
		close(c.stop)
		<-c.done
		c.mu.Lock()
		defer c.mu.Unlock()
		var busy, log, done int
		c.closeErr = c.db.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done)
		if err := c.db.Close(); c.closeErr == nil {
			c.closeErr = err
		}
	})
	return c.closeErr
}

// Checkpoint copies every committed WAL frame into the database file now, waiting for a background round
// that is under way. It returns the error of that round, if any.
func (d *Driver) Checkpoint(ctx context.Context) error {
	return d.ckpt.round(ctx)
}

// CheckpointErr is the error of the last background checkpoint, nil when it went well.
func (d *Driver) CheckpointErr() error {
	d.ckpt.mu.Lock()
	defer d.ckpt.mu.Unlock()
	return d.ckpt.err
}
