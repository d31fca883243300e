package custody

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"
	"golang.org/x/mod/sumdb/note"

	"sirec/internal/journal"
	"sirec/internal/record"
	"sirec/internal/store"
	"sirec/internal/store/sqlite"
)

// Errors a backup is refused with; each is wrapped with the part or table it concerns.
var (
	ErrChecksumMismatch = errors.New("its SHA-256 differs from the manifest's: the part was changed or damaged")
	ErrMissingPart      = errors.New("missing from the backup")
	ErrWrongKey         = errors.New("the backup is not encrypted to the identity given (wrong key)")
	ErrMismatch         = errors.New("the restored data differs from the backup's")
)

// Check is one line of a report: what was checked and what was found.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Report is what a restore or a verification found, check by check.
type Report struct {
	What     string // "backup" or "migrate"
	URL      string // the backup, or the engines of a migration
	Manifest *Manifest
	Checks   []Check
	Events   int64
	Root     string
	Took     time.Duration
	Err      error // the first failure, nil when every check passed
	// Figures are the headline counts and money totals found identical, name and value (money in yuan).
	Figures [][2]string
}

func (r *Report) pass(name, format string, args ...any) {
	r.Checks = append(r.Checks, Check{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)})
}

// fail records the failure and returns it, so that callers can write `return r, r.fail(…)`.
func (r *Report) fail(name string, err error) error {
	r.Checks = append(r.Checks, Check{Name: name, Detail: err.Error()})
	if r.Err == nil {
		r.Err = err
	}
	return err
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return r.Err == nil && len(r.Checks) > 0 }

// Text is the report as printed: one line per check, then the verdict.
func (r *Report) Text() string {
	var b strings.Builder
	what := r.What
	if what == "" {
		what = "backup"
	}
	fmt.Fprintf(&b, "%s %s\n", what, r.URL)
	if m := r.Manifest; m != nil {
		fmt.Fprintf(&b, "taken %s from %s (%s), %d events, %s stored\n", m.Created.Format(time.RFC3339), m.Origin, m.Engine, m.Events, humanBytes(m.StoredBytes()))
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s %-26s %s\n", mark, c.Name, c.Detail)
	}
	if len(r.Figures) > 0 {
		fmt.Fprintf(&b, "  figures (counts; money totals in yuan):\n")
		for _, f := range r.Figures {
			fmt.Fprintf(&b, "       %-34s %16s\n", f[0], f[1])
		}
	}
	if r.Err != nil {
		fmt.Fprintf(&b, "FAIL %v\n", r.Err)
	} else {
		fmt.Fprintf(&b, "ok events=%d root=%s\n", r.Events, r.Root)
	}
	return b.String()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// RestoreOptions say how to read a backup.
type RestoreOptions struct {
	Verifier   note.Verifier  // the agency's checkpoint verifier key
	Identities []age.Identity // identities that can decrypt the parts
	// Force discards whatever the target database holds before restoring. Without it a target holding any
	// data is refused.
	Force    bool
	Now      func() time.Time
	Progress func(stage string, done, total int64)
	scratch  bool // the target is a throw-away database: no need to empty it after a failure
}

// Restore restores the backup at url into d, which must be empty (see RestoreOptions.Force), and proves the
// result: the manifest's signature under the agency's key, every part's SHA-256, every table's rows against the
// manifest, the journal against the manifest's signed checkpoint (store.Verify: signatures, tree, every event),
// and the projections — rebuilt from the journal through the rules — against the backup's, table by table and
// figure by figure. The report lists each check; the error is the first failure. A restore that fails leaves d
// empty again.
func Restore(ctx context.Context, url string, d store.Driver, opt RestoreOptions) (*Report, error) {
	start := time.Now()
	rep := &Report{URL: url}
	defer func() { rep.Took = time.Since(start) }()
	if opt.Verifier == nil {
		return rep, rep.fail("keys", errors.New("the agency's verifier key is needed to check the backup"))
	}
	if len(opt.Identities) == 0 {
		return rep, rep.fail("keys", record.Invalid("identity", "required", "an age identity is needed to decrypt the backup"))
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	progress := func(stage string, done, total int64) {
		if opt.Progress != nil {
			opt.Progress(stage, done, total)
		}
	}
	loc, err := parseLocation("url", url)
	if err != nil {
		return rep, rep.fail("url", err)
	}
	b, err := loc.open(ctx, false)
	if err != nil {
		return rep, rep.fail("backup", err)
	}
	defer b.Close()
	m, err := readManifest(ctx, b, opt.Verifier)
	if err != nil {
		return rep, rep.fail("manifest", err)
	}
	rep.Manifest = m
	rep.pass("manifest", "signed by %s, %d parts", opt.Verifier.Name(), len(m.Parts))

	if m.Checkpoint != "" {
		cp, err := journal.OpenCheckpoint([]byte(m.Checkpoint), opt.Verifier)
		if err != nil {
			return rep, rep.fail("checkpoint", fmt.Errorf("the manifest's checkpoint does not verify: %w", err))
		}
		if int64(cp.Size) != m.Size || hex.EncodeToString(cp.Root) != m.Root {
			return rep, rep.fail("checkpoint", fmt.Errorf("%w: the manifest's size and root disagree with its signed checkpoint", ErrManifest))
		}
		rep.pass("signed checkpoint", "size %d, root %s", cp.Size, m.Root)
	}
	for _, v := range m.Steps {
		if !store.KnownStep(v) {
			return rep, rep.fail("schema", fmt.Errorf("the backup was made by a newer sirec (schema step %d): restore it with that version", v))
		}
	}
	// Every part is there, at its size, before anything is written.
	var missing []string
	for _, p := range m.Parts {
		a, err := b.Attributes(ctx, p.Object)
		if isNotFound(err) {
			missing = append(missing, p.Name)
			continue
		}
		if err != nil {
			return rep, rep.fail("part "+p.Name, err)
		}
		if a.Size != p.Stored {
			return rep, rep.fail("part "+p.Name, fmt.Errorf("part %s (%s): %d bytes where the manifest says %d: %w", p.Name, p.Object, a.Size, p.Stored, ErrChecksumMismatch))
		}
	}
	if len(missing) > 0 {
		return rep, rep.fail("parts", fmt.Errorf("part %s: %w", strings.Join(missing, ", "), ErrMissingPart))
	}
	if !slices.ContainsFunc(m.Parts, func(p Part) bool { return p.Name == "journal" }) {
		return rep, rep.fail("parts", fmt.Errorf("%w: it lists no journal part", ErrManifest))
	}

	r, err := store.BeginRestore(ctx, d, opt.Force, now())
	if err != nil {
		return rep, rep.fail("target", err)
	}
	committed := false
	defer func() {
		if !committed {
			r.Rollback(ctx)
		}
	}()
	for _, p := range m.Parts {
		if err := restorePart(ctx, b, p, opt.Identities, r, m, progress); err != nil {
			if errors.Is(err, ErrWrongKey) && len(m.Recipients) > 0 {
				err = fmt.Errorf("%w; it is encrypted to %s", err, strings.Join(m.Recipients, ", "))
			}
			return rep, rep.fail("part "+p.Name, err)
		}
		var rows int64
		for _, t := range p.Tables {
			rows += t.Rows
		}
		rep.pass("part "+p.Name, "sha256 %s…, %d tables, %d rows", p.SHA256[:16], len(p.Tables), rows)
	}
	if err := r.Finish(ctx, true, func(done, total int64) { progress("rebuild", done, total) }); err != nil {
		return rep, rep.fail("rebuild", err)
	}
	committed = true
	if err := checkRestored(ctx, d, m, opt, rep, progress); err != nil {
		if !opt.scratch {
			// The target held nothing before (or --force discarded it): leave it empty, not half-proven.
			if werr := store.Wipe(context.WithoutCancel(ctx), d); werr != nil {
				err = fmt.Errorf("%w (and emptying the target again failed: %v)", err, werr)
				rep.Err = err
			}
		}
		return rep, err
	}
	return rep, nil
}

// restorePart streams one part: its stored bytes are hashed as they are read, decrypted, decompressed and
// decoded; journal and state rows go into the target, projection rows are only counted and digested (the
// projections are rebuilt from the journal and compared). Whatever goes wrong, the rest of the part is read so
// that a changed part is reported as changed rather than as whatever the change broke.
func restorePart(ctx context.Context, b *blob.Bucket, p Part, ids []age.Identity, r *store.Restorer, m *Manifest, progress func(string, int64, int64)) error {
	rd, err := b.NewReader(ctx, p.Object, nil)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("part %s: %w", p.Name, ErrMissingPart)
		}
		return err
	}
	defer rd.Close()
	h := sha256.New()
	cnt := &counter{}
	src := io.TeeReader(rd, io.MultiWriter(h, cnt))
	err = decodeInto(src, p, ids, r, m, progress)
	if _, derr := io.Copy(io.Discard, src); derr != nil && err == nil {
		err = derr
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != p.SHA256 || cnt.n != p.Stored {
		return fmt.Errorf("part %s (%s): SHA-256 %s… where the manifest says %s…: %w", p.Name, p.Object, sum[:16], p.SHA256[:16], ErrChecksumMismatch)
	}
	return err
}

func decodeInto(src io.Reader, p Part, ids []age.Identity, r *store.Restorer, m *Manifest, progress func(string, int64, int64)) error {
	dec, err := age.Decrypt(src, ids...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return fmt.Errorf("part %s: %w", p.Name, ErrWrongKey)
		}
		return fmt.Errorf("part %s: decrypt: %w", p.Name, err)
	}
	zr, err := zstd.NewReader(dec)
	if err != nil {
		return err
	}
	defer zr.Close()
	var (
		entry  TableEntry
		cols   []string
		insert bool
		batch  [][]any
		digest rowDigest
		rows   int64
		ctx    = context.Background()
	)
	var total int64
	for _, t := range p.Tables {
		total += t.Rows
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.Insert(ctx, entry.Name, cols, batch)
		batch = batch[:0]
		return err
	}
	h := partHandler{
		table: func(name string, c []string) error {
			var ok bool
			for _, t := range p.Tables {
				if t.Name == name {
					entry, ok = t, true
				}
			}
			if !ok || !slices.Equal(entry.Columns, c) {
				return fmt.Errorf("part %s: table %s is not as the manifest lists it", p.Name, name)
			}
			cols, digest = c, rowDigest{}
			insert = entry.Kind != store.KindProjection
			return nil
		},
		row: func(row []any) error {
			digest.add(row)
			rows++
			if rows%50000 == 0 {
				progress(p.Name, rows, total)
			}
			if !insert {
				return nil
			}
			batch = append(batch, row)
			if len(batch) == 4096 {
				return flush()
			}
			return nil
		},
		end: func(name string, n int64) error {
			if err := flush(); err != nil {
				return fmt.Errorf("table %s: %w", name, err)
			}
			if n != entry.Rows || digest.String() != entry.Digest {
				return fmt.Errorf("part %s: table %s holds %d rows with digest %s…, the manifest says %d rows with %s…: %w",
					p.Name, name, n, digest.String()[:16], entry.Rows, entry.Digest[:16], ErrMismatch)
			}
			return nil
		},
	}
	if err := decodePart(bufio.NewReaderSize(zr, 1<<20), h); err != nil {
		return fmt.Errorf("part %s: %w", p.Name, err)
	}
	progress(p.Name, rows, total)
	return nil
}

// checkRestored proves the restored database: the journal verifies and is the manifest's; every restored
// table holds the backup's rows; the rebuilt projections are the backup's, table by table and figure by figure.
func checkRestored(ctx context.Context, d store.Driver, m *Manifest, opt RestoreOptions, rep *Report, progress func(string, int64, int64)) error {
	vr, err := store.Verify(ctx, d, opt.Verifier, store.DefaultRules(), func(done, total int64) { progress("verify", done, total) })
	if err != nil {
		return rep.fail("verify", err)
	}
	rep.Events, rep.Root = vr.Events, vr.RootHex()
	if vr.Events != m.Events || rep.Root != m.Root {
		return rep.fail("journal", fmt.Errorf("%w: the restored journal has %d events and root %s; the manifest's checkpoint says %d and %s", ErrMismatch, vr.Events, rep.Root, m.Size, m.Root))
	}
	rep.pass("journal", "%d events, %d signed checkpoints, root %s matches the manifest's signed checkpoint", vr.Events, vr.Checkpoints, rep.Root)
	return compareTables(ctx, d, m, rep)
}

// compareTables compares every table but the journal's (which verify has proven) and the headline figures of
// d with the manifest's.
func compareTables(ctx context.Context, d store.Driver, m *Manifest, rep *Report) error {
	snap, err := store.OpenSnapshot(ctx, d)
	if err != nil {
		return rep.fail("tables", err)
	}
	defer snap.Close(ctx)
	var projRows, stateRows int64
	var nProj, nState int
	for _, p := range m.Parts {
		for _, e := range p.Tables {
			if e.Kind == store.KindJournal {
				continue
			}
			t, ok := snap.Table(e.Name)
			if !ok {
				return rep.fail("table "+e.Name, fmt.Errorf("%w: table %s is missing", ErrMismatch, e.Name))
			}
			n, digest, err := tableDigest(ctx, snap, t)
			if err != nil {
				return rep.fail("table "+e.Name, err)
			}
			if n != e.Rows || digest != e.Digest {
				what := "restored"
				if e.Kind == store.KindProjection {
					what = "rebuilt from the journal"
				}
				return rep.fail("table "+e.Name, fmt.Errorf("%w: %s %s has %d rows (digest %s…), the backup's has %d (digest %s…)",
					ErrMismatch, what, e.Name, n, digest[:16], e.Rows, e.Digest[:16]))
			}
			if e.Kind == store.KindProjection {
				projRows += n
				nProj++
			} else {
				stateRows += n
				nState++
			}
		}
	}
	rep.pass("projections", "%d tables, %d rows rebuilt from the journal, identical to the backup's", nProj, projRows)
	rep.pass("state and materials", "%d tables, %d rows identical to the backup's", nState, stateRows)
	got, err := snap.Figures(ctx)
	if err != nil {
		return rep.fail("figures", err)
	}
	for _, name := range sortedNames(m.Figures) {
		want := m.Figures[name]
		if got[name] != want {
			return rep.fail("figures", fmt.Errorf("%w: %s is %s after the rebuild, %s in the backup", ErrMismatch, name, figure(name, got[name]), figure(name, want)))
		}
		rep.Figures = append(rep.Figures, [2]string{name, figure(name, want)})
	}
	rep.pass("figures", "%d counts and money totals of the rebuilt projections identical to the backup's", len(rep.Figures))
	return nil
}

func figure(name string, v int64) string {
	if store.FigureIsMoney(name) {
		return record.Fen(v).String()
	}
	return fmt.Sprint(v)
}

func sortedNames(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// VerifyOptions say how to verify a backup.
type VerifyOptions struct {
	Verifier   note.Verifier
	Identities []age.Identity
	// ScratchDir is where the scratch database is made (and removed afterwards); "" for the system's
	// temporary folder.
	ScratchDir string
	Progress   func(stage string, done, total int64)
}

// Verify restores the backup at url into a scratch SQLite database and proves it as Restore does; the scratch
// database is removed afterwards. It is the restore drill (R9.2).
func Verify(ctx context.Context, url string, opt VerifyOptions) (*Report, error) {
	dir, err := os.MkdirTemp(opt.ScratchDir, "sirec-verify-")
	if err != nil {
		return &Report{URL: url}, err
	}
	defer os.RemoveAll(dir)
	d, err := sqlite.Open(filepath.Join(dir, "scratch.db"))
	if err != nil {
		return &Report{URL: url}, err
	}
	defer d.Close()
	return Restore(ctx, url, d, RestoreOptions{Verifier: opt.Verifier, Identities: opt.Identities, Progress: opt.Progress, scratch: true})
}
