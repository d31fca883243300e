package custody

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/mod/sumdb/note"
)

// FormatVersion names the backup format this sirec writes and reads.
const FormatVersion = "sirec-backup/1"

// manifestObject is the manifest's key within a backup. A backup without one is incomplete and is not a
// backup: the manifest is written last.
const manifestObject = "manifest"

// Manifest describes a backup: what it covers and how to check every byte of it. It is stored as a note signed
// with the agency's checkpoint key, so that a changed manifest is refused like a changed checkpoint; it holds no
// personal data (counts, hashes and the signed checkpoint), so it is not encrypted.
type Manifest struct {
	Format  string    `json:"format"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Origin  string    `json:"origin"` // the agency, as its checkpoints name it
	Engine  string    `json:"engine"` // the engine the backup was taken from
	Steps   []int     `json:"schema_steps"`
	// Checkpoint is the latest signed checkpoint in the snapshot: the journal the backup holds is exactly the
	// tree it signs.
	Checkpoint string           `json:"checkpoint"`
	Size       int64            `json:"size"`
	Root       string           `json:"root"` // hex
	Events     int64            `json:"events"`
	Recipients []string         `json:"recipients"` // the age recipients the parts are encrypted to
	Figures    map[string]int64 `json:"figures"`    // headline counts and money totals (fen) of the projections
	Parts      []Part           `json:"parts"`
}

// Part is one object of a backup: tables, packed, compressed with zstd and encrypted with age.
type Part struct {
	Name   string       `json:"name"`   // journal, projections, materials, state
	Object string       `json:"object"` // its key within the backup
	Stored int64        `json:"stored_bytes"`
	Plain  int64        `json:"plain_bytes"`
	SHA256 string       `json:"sha256"` // of the stored (encrypted) bytes
	Tables []TableEntry `json:"tables"`
}

// TableEntry describes one table in a part.
type TableEntry struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"`
	Columns []string `json:"columns"`
	Rows    int64    `json:"rows"`
	Digest  string   `json:"digest"` // see rowDigest
}

// Table returns the entry of the named table in any part.
func (m *Manifest) Table(name string) (TableEntry, bool) {
	for _, p := range m.Parts {
		for _, t := range p.Tables {
			if t.Name == name {
				return t, true
			}
		}
	}
	return TableEntry{}, false
}

// StoredBytes is the size of all parts.
func (m *Manifest) StoredBytes() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Stored
	}
	return n
}

// sign returns the manifest as a signed note.
func (m *Manifest) sign(s note.Signer) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: string(b) + "\n"}, s)
}

// ErrManifest is wrapped when a manifest does not verify.
var ErrManifest = errors.New("the backup's manifest does not verify")

// readManifest reads and checks a backup's manifest against the agency's verifier key.
func readManifest(ctx context.Context, b *blob.Bucket, v note.Verifier) (*Manifest, error) {
	r, err := b.NewReader(ctx, manifestObject, nil)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: its manifest is missing (an incomplete backup, or not a backup)", ErrNoBackup)
		}
		return nil, err
	}
	signed, err := io.ReadAll(io.LimitReader(r, 16<<20))
	r.Close()
	if err != nil {
		return nil, err
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		var unknown *note.UnverifiedNoteError
		if errors.As(err, &unknown) {
			return nil, fmt.Errorf("%w: it is not signed by %s (another agency's backup, or a changed signature)", ErrManifest, v.Name())
		}
		return nil, fmt.Errorf("%w under the agency's key %s: %v (the manifest was changed or damaged)", ErrManifest, v.Name(), err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader([]byte(n.Text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%w: format %q; this sirec reads %s", ErrManifest, m.Format, FormatVersion)
	}
	return &m, nil
}
