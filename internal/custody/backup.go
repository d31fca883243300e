// Package custody keeps the records safe over time (R9.2–R9.4): consistent backups of a running database,
// compressed (zstd) and encrypted (age) to an off-site folder or an S3-compatible store, with a signed manifest;
// their verification by a full restore into a scratch database; restore; migration between engines; and the
// scheduled backups and restore drills of the service, whose runs it keeps in the custody log.
package custody

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"

	"sirec/internal/journal"
	"sirec/internal/keyring"
	"sirec/internal/record"
	"sirec/internal/store"
)

// partOrder is the order of a backup's parts, by the kind of table they hold.
var partOrder = []string{store.KindJournal, store.KindProjection, store.KindMaterials, store.KindState}

// partNames name the parts.
var partNames = map[string]string{
	store.KindJournal:    "journal",
	store.KindProjection: "projections",
	store.KindMaterials:  "materials",
	store.KindState:      "state",
}

// BackupOptions say how to take a backup.
type BackupOptions struct {
	Keys       *keyring.Keyring // the agency's keys: the manifest is signed with the checkpoint key
	Recipients []age.Recipient  // the parts are encrypted to every one of them
	Now        func() time.Time
	// Progress, when set, is told the part being written and the rows written so far.
	Progress func(part string, rows int64)
}

// BackupResult tells what a backup wrote.
type BackupResult struct {
	URL      string
	Manifest *Manifest
	Took     time.Duration
}

// Backup takes a consistent snapshot of d — while the service goes on writing — and writes it under dest as a
// new backup: one part per kind of table and a signed manifest, written last. On failure whatever was written
// is deleted.
func Backup(ctx context.Context, d store.Driver, dest string, opt BackupOptions) (BackupResult, error) {
	start := time.Now()
	if opt.Keys == nil {
		return BackupResult{}, errors.New("backup: the agency's keys are needed to sign the manifest")
	}
	if len(opt.Recipients) == 0 {
		return BackupResult{}, record.Invalid("recipient", "required", "a backup needs at least one age recipient to encrypt to")
	}
	loc, err := parseLocation("to", dest)
	if err != nil {
		return BackupResult{}, err
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	snap, err := store.OpenSnapshot(ctx, d)
	if err != nil {
		return BackupResult{}, fmt.Errorf("snapshot: %w", err)
	}
	defer snap.Close(ctx)

	m := &Manifest{Format: FormatVersion, Created: now().UTC().Truncate(time.Millisecond), Origin: opt.Keys.Origin, Engine: snap.Engine,
		Steps: snap.Steps, Checkpoint: snap.Signed, Size: snap.Size, Events: snap.Events}
	if snap.Signed != "" {
		cp, err := journal.OpenCheckpoint([]byte(snap.Signed), opt.Keys.Verifier)
		if err != nil {
			return BackupResult{}, fmt.Errorf("the database's latest checkpoint does not verify under the agency's key: %w", err)
		}
		m.Root = hex.EncodeToString(cp.Root)
	} else {
		m.Root = hex.EncodeToString(journal.NewTree().Root())
	}
	for _, r := range opt.Recipients {
		m.Recipients = append(m.Recipients, keyring.RecipientString(r))
	}
	if m.Figures, err = snap.Figures(ctx); err != nil {
		return BackupResult{}, err
	}
	region := strings.TrimPrefix(opt.Keys.Origin, "sirec.agency/")
	m.Name = fmt.Sprintf("sirec-%s-%s-%d", region, strings.Replace(m.Created.Format("20060102T150405.000Z"), ".", "", 1), m.Size)
	bl := loc.child(m.Name)
	b, err := bl.open(ctx, true)
	if err != nil {
		return BackupResult{}, err
	}
	defer b.Close()
	ok := false
	defer func() {
		if !ok {
			// Nothing half-written is left behind: a backup without its manifest is not a backup anyway.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			deleteAll(cctx, bl)
			cancel()
		}
	}()
	for _, kind := range partOrder {
		var tables []store.Table
		for _, t := range snap.Tables {
			if t.Kind == kind {
				tables = append(tables, t)
			}
		}
		if len(tables) == 0 {
			continue
		}
		p, err := writePart(ctx, b, snap, partNames[kind], tables, opt)
		if err != nil {
			return BackupResult{}, fmt.Errorf("part %s: %w", partNames[kind], err)
		}
		m.Parts = append(m.Parts, p)
	}
	signed, err := m.sign(opt.Keys.Signer)
	if err != nil {
		return BackupResult{}, err
	}
	if err := b.WriteAll(ctx, manifestObject, signed, &blob.WriterOptions{ContentType: "text/plain; charset=utf-8"}); err != nil {
		return BackupResult{}, fmt.Errorf("write the manifest: %w", err)
	}
	if err := bl.sync(); err != nil {
		return BackupResult{}, fmt.Errorf("sync the backup to disk: %w", err)
	}
	ok = true
	return BackupResult{URL: bl.String(), Manifest: m, Took: time.Since(start)}, nil
}

// counter counts bytes written through it.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// countingWriter counts the bytes it passes on.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writePart packs tables into one object: rows → zstd → age → the destination, hashing the stored bytes.
func writePart(ctx context.Context, b *blob.Bucket, snap *store.Snapshot, name string, tables []store.Table, opt BackupOptions) (Part, error) {
	p := Part{Name: name, Object: name + ".part.zst.age"}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, p.Object, &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return p, err
	}
	abort := func(err error) (Part, error) {
		cancel() // a canceled writer discards what it has written
		w.Close()
		return p, err
	}
	h := sha256.New()
	stored := &counter{}
	enc, err := age.Encrypt(io.MultiWriter(w, h, stored), opt.Recipients...)
	if err != nil {
		return abort(err)
	}
	zw, err := zstd.NewWriter(enc, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return abort(err)
	}
	plain := &countingWriter{w: zw}
	pw, err := newPartWriter(plain)
	if err != nil {
		return abort(err)
	}
	var rows int64
	for _, t := range tables {
		if err := pw.table(t.Name, t.ColumnNames()); err != nil {
			return abort(err)
		}
		err := snap.Scan(ctx, t, func(row []any) error {
			if err := pw.row(row); err != nil {
				return fmt.Errorf("table %s: %w", t.Name, err)
			}
			rows++
			if opt.Progress != nil && rows%50000 == 0 {
				opt.Progress(name, rows)
			}
			return nil
		})
		if err != nil {
			return abort(err)
		}
		n, digest, err := pw.endTable()
		if err != nil {
			return abort(err)
		}
		p.Tables = append(p.Tables, TableEntry{Name: t.Name, Kind: t.Kind, Columns: t.ColumnNames(), Rows: n, Digest: digest})
	}
	if err := pw.close(); err != nil {
		return abort(err)
	}
	if err := zw.Close(); err != nil {
		return abort(err)
	}
	if err := enc.Close(); err != nil {
		return abort(err)
	}
	if err := w.Close(); err != nil {
		return p, err
	}
	if opt.Progress != nil {
		opt.Progress(name, rows)
	}
	p.Stored, p.Plain, p.SHA256 = stored.n, plain.n, hex.EncodeToString(h.Sum(nil))
	return p, nil
}
