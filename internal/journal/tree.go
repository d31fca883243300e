package journal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// StoredLevelStep is the spacing of the tree levels whose node hashes are stored: every complete subtree of
// 256 leaves (level 8), of 65,536 (level 16) and so on. With them any node hash is computed from at most 255
// stored hashes, so proofs and the append frontier cost little I/O while the nodes add only ~0.4 % rows.
const StoredLevelStep = 8

// Node is a stored internal node of the tree.
type Node struct {
	Level uint
	Index uint64
	Hash  []byte
}

var factory = &compact.RangeFactory{Hash: hashChildren}

// hashChildren is RFC 6962's node hash, SHA-256(0x01 || left || right), computed with one allocation.
func hashChildren(l, r []byte) []byte {
	if len(l) != sha256.Size || len(r) != sha256.Size {
		return rfc6962.DefaultHasher.HashChildren(l, r)
	}
	var b [1 + 2*sha256.Size]byte
	b[0] = rfc6962.RFC6962NodeHashPrefix
	copy(b[1:], l)
	copy(b[1+sha256.Size:], r)
	h := sha256.Sum256(b[:])
	return h[:]
}

// Tree appends leaf hashes to a compact range and collects the nodes to store.
type Tree struct {
	rng   *compact.Range
	nodes []Node
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{rng: factory.NewEmptyRange(0)} }

// TreeFromFrontier returns a tree of the given size from its frontier (compact range hashes).
func TreeFromFrontier(size uint64, hashes [][]byte) (*Tree, error) {
	r, err := factory.NewRange(0, size, hashes)
	if err != nil {
		return nil, err
	}
	return &Tree{rng: r}, nil
}

// Size returns the number of leaves.
func (t *Tree) Size() uint64 { return t.rng.End() }

// NewTreeAt returns an empty tree that begins at leaf index begin rather than 0: a part of a larger tree,
// built apart (in parallel with other parts, say) and then joined to the tree that ends at begin with Join. Its
// Size is the index its leaves end at; it has no root of its own.
func NewTreeAt(begin uint64) *Tree { return &Tree{rng: factory.NewEmptyRange(begin)} }

// Append adds a leaf hash. The tree keeps the slice: the caller must not change it afterwards.
func (t *Tree) Append(leaf []byte) {
	_ = t.rng.Append(leaf, t.visit)
}

// Join appends the leaves of o, a tree that begins where t ends (see NewTreeAt), and takes over the nodes to
// store that o completed; the nodes completed by joining the two are added too. The result is the same tree,
// with the same nodes, as appending o's leaves to t one by one.
func (t *Tree) Join(o *Tree) error {
	t.nodes = append(t.nodes, o.nodes...)
	o.nodes = nil
	return t.rng.AppendRange(o.rng, t.visit)
}

func (t *Tree) visit(id compact.NodeID, hash []byte) {
	if id.Level > 0 && id.Level%StoredLevelStep == 0 {
		t.nodes = append(t.nodes, Node{Level: id.Level, Index: id.Index, Hash: hash})
	}
}

// TakeNodes returns the nodes to store completed since the last call.
func (t *Tree) TakeNodes() []Node {
	n := t.nodes
	t.nodes = nil
	return n
}

// Root returns the tree's root hash (the SHA-256 of the empty string for an empty tree).
func (t *Tree) Root() []byte {
	if t.rng.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	r, _ := t.rng.GetRootHash(nil)
	return r
}

// Frontier returns the hashes of the compact range, enough to go on appending.
func (t *Tree) Frontier() [][]byte { return t.rng.Hashes() }

// Clone returns an independent copy.
func (t *Tree) Clone() *Tree {
	h := t.rng.Hashes()
	c, _ := TreeFromFrontier(t.rng.End(), append([][]byte(nil), h...))
	return c
}

// HashReader reads what a store keeps of the tree.
type HashReader interface {
	// LeafHashes returns the leaf hashes of [begin, end).
	LeafHashes(ctx context.Context, begin, end uint64) ([][]byte, error)
	// Nodes returns the stored node hashes of one level for indexes [begin, end).
	Nodes(ctx context.Context, level uint, begin, end uint64) ([][]byte, error)
}

// NodeHash computes the hash of a complete subtree from the stored hashes.
func NodeHash(ctx context.Context, r HashReader, id compact.NodeID) ([]byte, error) {
	base := id.Level - id.Level%StoredLevelStep
	var hs [][]byte
	var err error
	if base == id.Level && base > 0 {
		hs, err = r.Nodes(ctx, base, id.Index, id.Index+1)
	} else {
		begin, end := id.Index<<(id.Level-base), (id.Index+1)<<(id.Level-base)
		if base == 0 {
			hs, err = r.LeafHashes(ctx, begin, end)
		} else {
			hs, err = r.Nodes(ctx, base, begin, end)
		}
		if err == nil && uint64(len(hs)) != end-begin {
			err = fmt.Errorf("node %d/%d: %d of %d hashes stored", id.Level, id.Index, len(hs), end-begin)
		}
	}
	if err != nil {
		return nil, err
	}
	for len(hs) > 1 {
		next := hs[:0:0]
		for i := 0; i < len(hs); i += 2 {
			next = append(next, hashChildren(hs[i], hs[i+1]))
		}
		hs = next
	}
	if len(hs) != 1 {
		return nil, fmt.Errorf("node %d/%d is not stored", id.Level, id.Index)
	}
	return hs[0], nil
}

// Frontier computes the compact range of a tree of the given size from the stored hashes.
func Frontier(ctx context.Context, r HashReader, size uint64) (*Tree, error) {
	ids := compact.RangeNodes(0, size, nil)
	hashes := make([][]byte, 0, len(ids))
	for _, id := range ids {
		h, err := NodeHash(ctx, r, id)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return TreeFromFrontier(size, hashes)
}

func fetch(ctx context.Context, r HashReader, n proof.Nodes) ([][]byte, error) {
	hs := make([][]byte, 0, len(n.IDs))
	for _, id := range n.IDs {
		h, err := NodeHash(ctx, r, id)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return n.Rehash(hs, hashChildren)
}

// InclusionProof returns the proof that leaf index is in the tree of the given size.
func InclusionProof(ctx context.Context, r HashReader, index, size uint64) ([][]byte, error) {
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	return fetch(ctx, r, n)
}

// ConsistencyProof returns the proof that the tree of size1 is a prefix of the tree of size2.
func ConsistencyProof(ctx context.Context, r HashReader, size1, size2 uint64) ([][]byte, error) {
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	return fetch(ctx, r, n)
}

// VerifyInclusion checks an inclusion proof of an encoded event against a root.
func VerifyInclusion(body []byte, index, size uint64, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, LeafHash(body), p, root)
}

// VerifyConsistency checks a consistency proof between two roots.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	if size1 == size2 {
		if !bytes.Equal(root1, root2) {
			return fmt.Errorf("same size %d but different roots", size1)
		}
		return nil
	}
	return proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, root1, root2)
}
