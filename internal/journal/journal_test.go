package journal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// memReader keeps what a store keeps: leaf hashes and the nodes the tree reported.
type memReader struct {
	leaves [][]byte
	nodes  map[uint]map[uint64][]byte
}

func (m *memReader) LeafHashes(_ context.Context, begin, end uint64) ([][]byte, error) {
	return m.leaves[begin:min(end, uint64(len(m.leaves)))], nil
}

func (m *memReader) Nodes(_ context.Context, level uint, begin, end uint64) ([][]byte, error) {
	var out [][]byte
	for i := begin; i < end; i++ {
		h, ok := m.nodes[level][i]
		if !ok {
			break
		}
		out = append(out, h)
	}
	return out, nil
}

// naiveRoot is RFC 6962's MTH, written out from the RFC's definition.
func naiveRoot(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(naiveRoot(leaves[:k]))
	h.Write(naiveRoot(leaves[k:]))
	return h.Sum(nil)
}

func build(n int) (*Tree, *memReader) {
	t := NewTree()
	m := &memReader{nodes: map[uint]map[uint64][]byte{}}
	for i := 0; i < n; i++ {
		h := LeafHash([]byte(fmt.Sprintf("event %d", i)))
		m.leaves = append(m.leaves, h)
		t.Append(h)
		for _, nd := range t.TakeNodes() {
			if m.nodes[nd.Level] == nil {
				m.nodes[nd.Level] = map[uint64][]byte{}
			}
			m.nodes[nd.Level][nd.Index] = nd.Hash
		}
	}
	return t, m
}

func TestRootMatchesRFC6962(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 255, 256, 257, 1000, 65537} {
		tree, m := build(n)
		if !bytes.Equal(tree.Root(), naiveRoot(m.leaves)) {
			t.Fatalf("size %d: root differs from RFC 6962 MTH", n)
		}
	}
}

func TestFrontierFromStoredHashesContinuesTheTree(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{1, 255, 256, 300, 65536 + 513} {
		tree, m := build(n)
		f, err := Frontier(ctx, m, uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Root(), tree.Root()) {
			t.Fatalf("size %d: frontier root differs", n)
		}
		h := LeafHash([]byte("next"))
		f.Append(h)
		tree.Append(h)
		if !bytes.Equal(f.Root(), tree.Root()) {
			t.Fatalf("size %d: appending to the frontier diverges", n)
		}
	}
}

func TestInclusionAndConsistencyProofs(t *testing.T) {
	ctx := context.Background()
	n := 1300
	_, m := build(n)
	for _, size := range []uint64{1, 7, 256, 257, 1000, 1300} {
		root := naiveRoot(m.leaves[:size])
		for _, idx := range []uint64{0, size / 2, size - 1} {
			p, err := InclusionProof(ctx, m, idx, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion([]byte(fmt.Sprintf("event %d", idx)), idx, size, p, root); err != nil {
				t.Fatalf("inclusion %d in %d: %v", idx, size, err)
			}
			if err := VerifyInclusion([]byte("forged"), idx, size, p, root); err == nil {
				t.Fatalf("a forged event verified")
			}
		}
		for _, s1 := range []uint64{1, size / 3, size} {
			if s1 == 0 {
				continue
			}
			p, err := ConsistencyProof(ctx, m, s1, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(s1, size, p, naiveRoot(m.leaves[:s1]), root); err != nil {
				t.Fatalf("consistency %d→%d: %v", s1, size, err)
			}
		}
	}
}

func TestCanonicalEncoding(t *testing.T) {
	e := Event{Seq: 7, Type: "contribution.posted", Region: "110105", Person: "ab", Employer: "91350100M000100Y43",
		At: time.UnixMilli(1700000000123).UTC(), Source: "batch:1", Supersedes: 3, Data: json.RawMessage(`{"period":"202401","wage":1000000}`)}
	body := e.Encode()
	want := `{"at":1700000000123,"data":{"period":"202401","wage":1000000},"employer":"91350100M000100Y43","person":"ab","region":"110105","seq":7,"source":"batch:1","supersedes":3,"type":"contribution.posted"}`
	if string(body) != want {
		t.Fatalf("encoding\n got %s\nwant %s", body, want)
	}
	d, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Encode(), body) {
		t.Fatal("round trip changed the bytes")
	}
	for _, bad := range []string{
		`{"at":1700000000123,"data":{},"region":"110105","seq":7,"type":"x","extra":1}`,
		`{ "at":1700000000123,"data":{},"region":"110105","seq":7,"type":"x"}`,
		`{"data":{},"at":1700000000123,"region":"110105","seq":7,"type":"x"}`,
	} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("non-canonical %s accepted", bad)
		}
	}
}

func TestCheckpointSignature(t *testing.T) {
	skey, vkey, err := note.GenerateKey(nil, "sirec.agency/110105")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	tree, _ := build(10)
	cp := Checkpoint{Origin: "sirec.agency/110105", Size: 10, Root: tree.Root()}
	signed, err := cp.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(signed, verifier)
	if err != nil || !got.Equal(cp) {
		t.Fatalf("open: %v %v", got, err)
	}
	tampered := bytes.Replace(signed, []byte("\n10\n"), []byte("\n11\n"), 1)
	if _, err := OpenCheckpoint(tampered, verifier); err == nil {
		t.Fatal("a changed size verified")
	}
	other, _, _ := note.GenerateKey(nil, "sirec.agency/110105")
	os, _ := note.NewSigner(other)
	forged, _ := cp.Sign(os)
	if _, err := OpenCheckpoint(forged, verifier); err == nil {
		t.Fatal("a checkpoint signed by another key verified")
	}
}

func TestLeafHasherMatchesLeafHash(t *testing.T) {
	var lh LeafHasher
	for _, body := range []string{"", "x", `{"at":1,"data":{},"region":"110105","seq":0,"type":"x"}`} {
		var got [32]byte
		lh.Sum(&got, []byte(body))
		if !bytes.Equal(got[:], LeafHash([]byte(body))) {
			t.Fatalf("leaf hash of %q differs", body)
		}
	}
}

// TestJoinedPartsMakeTheSameTree builds trees from parts that begin at arbitrary indexes and joins them: the
// root and the stored nodes are those of appending every leaf in turn.
func TestJoinedPartsMakeTheSameTree(t *testing.T) {
	leaf := func(i int) []byte { return LeafHash([]byte(fmt.Sprintf("event %d", i))) }
	for _, c := range []struct{ start, n, part int }{{0, 1000, 1}, {0, 70000, 4096}, {5, 1300, 100}, {255, 3000, 256}, {300, 66000, 4096}, {65535, 600, 7}} {
		whole := NewTree()
		for i := 0; i < c.start; i++ {
			whole.Append(leaf(i))
		}
		whole.TakeNodes()
		joined := whole.Clone()
		for i := c.start; i < c.start+c.n; i++ {
			whole.Append(leaf(i))
		}
		for lo := c.start; lo < c.start+c.n; lo += c.part {
			part := NewTreeAt(uint64(lo))
			for i := lo; i < min(lo+c.part, c.start+c.n); i++ {
				part.Append(leaf(i))
			}
			if err := joined.Join(part); err != nil {
				t.Fatal(err)
			}
		}
		if joined.Size() != whole.Size() || !bytes.Equal(joined.Root(), whole.Root()) {
			t.Fatalf("%+v: joined tree differs", c)
		}
		key := func(ns []Node) map[string]bool {
			m := map[string]bool{}
			for _, n := range ns {
				m[fmt.Sprintf("%d/%d/%x", n.Level, n.Index, n.Hash)] = true
			}
			return m
		}
		w, j := key(whole.TakeNodes()), key(joined.TakeNodes())
		if fmt.Sprint(w) != fmt.Sprint(j) {
			t.Fatalf("%+v: nodes differ: %d vs %d", c, len(w), len(j))
		}
	}
	if err := NewTree().Join(NewTreeAt(3)); err == nil {
		t.Fatal("a part that does not begin at the tree's end was joined")
	}
}

func TestAppendQuoteIsStrconvQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "110105", `a"b`, `a\b`, "tab\there", "新", "\x7f", "\x00", "bad\xffutf8", "~ }", "<&>"} {
		if got, want := string(appendQuote(nil, s)), strconv.Quote(s); got != want {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	}
}
