package journal

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a signed statement of the tree: origin, size and root, in the C2SP tlog-checkpoint format.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Text is the checkpoint body: "<origin>\n<size>\n<base64 root>\n".
func (c Checkpoint) Text() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
}

// Sign returns the signed note.
func (c Checkpoint) Sign(s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Text()}, s)
}

// OpenCheckpoint checks the signature of a signed checkpoint and parses it.
func OpenCheckpoint(signed []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint signature does not verify under key %s: %w", v.Name(), err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 || lines[len(lines)-1] != "" {
		return Checkpoint{}, fmt.Errorf("checkpoint text is malformed")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q: %w", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	if lines[0] != v.Name() {
		return Checkpoint{}, fmt.Errorf("checkpoint origin %q is not the key's %q", lines[0], v.Name())
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// Equal reports whether two checkpoints state the same tree.
func (c Checkpoint) Equal(o Checkpoint) bool {
	return c.Origin == o.Origin && c.Size == o.Size && bytes.Equal(c.Root, o.Root)
}
