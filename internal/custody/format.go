package custody

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	"sirec/internal/store"
)

// A part is a stream of tables, before compression and encryption:
//
//	magic "sirec-part/1\n"
//	per table: 'T' name ncols col… , then 'R' value… per row, then 'E' rows
//	'Z' at the end
//
// Strings are a uvarint length and the bytes; counts are uvarints. A value is a tag and its payload: 'n' NULL,
// 'i' a varint, 's' text, 'b' bytes, 'f' 8 bytes of IEEE 754, 't'/'F' true/false.
const partMagic = "sirec-part/1\n"

// partWriter encodes tables into a part.
type partWriter struct {
	w      *bufio.Writer
	buf    []byte
	rows   int64
	digest rowDigest
}

func newPartWriter(w io.Writer) (*partWriter, error) {
	p := &partWriter{w: bufio.NewWriterSize(w, 1<<20)}
	_, err := p.w.WriteString(partMagic)
	return p, err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (p *partWriter) table(name string, cols []string) error {
	b := append(p.buf[:0], 'T')
	b = appendString(b, name)
	b = binary.AppendUvarint(b, uint64(len(cols)))
	for _, c := range cols {
		b = appendString(b, c)
	}
	p.buf = b
	p.rows, p.digest = 0, rowDigest{}
	_, err := p.w.Write(b)
	return err
}

func (p *partWriter) row(vals []any) error {
	b := append(p.buf[:0], 'R')
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, 'n')
		case int64:
			b = append(b, 'i')
			b = binary.AppendVarint(b, x)
		case string:
			b = append(b, 's')
			b = appendString(b, x)
		case []byte:
			b = append(b, 'b')
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		case float64:
			b = append(b, 'f')
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		case bool:
			if x {
				b = append(b, 't')
			} else {
				b = append(b, 'F')
			}
		default:
			return fmt.Errorf("a value of type %T cannot be carried", v)
		}
	}
	p.buf = b
	p.rows++
	p.digest.add(vals)
	_, err := p.w.Write(b)
	return err
}

// endTable ends the table and returns its row count and digest.
func (p *partWriter) endTable() (int64, string, error) {
	b := append(p.buf[:0], 'E')
	b = binary.AppendUvarint(b, uint64(p.rows))
	p.buf = b
	_, err := p.w.Write(b)
	return p.rows, p.digest.String(), err
}

func (p *partWriter) close() error {
	if err := p.w.WriteByte('Z'); err != nil {
		return err
	}
	return p.w.Flush()
}

// errPartFormat is wrapped by every error in a part's structure.
var errPartFormat = errors.New("the part's contents are malformed")

// partHandler receives a decoded part: each table's header, its rows (each a fresh slice) and its end.
type partHandler struct {
	table func(name string, cols []string) error
	row   func(row []any) error
	end   func(name string, rows int64) error
}

// decodePart reads a whole part.
func decodePart(r *bufio.Reader, h partHandler) error {
	magic := make([]byte, len(partMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != partMagic {
		return fmt.Errorf("%w: it does not start as a sirec part", errPartFormat)
	}
	fail := func(err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: %v", errPartFormat, err)
	}
	readString := func() (string, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return "", err
		}
		if n > 1<<30 {
			return "", fmt.Errorf("a length of %d bytes", n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	var name string
	var ncols int
	var rows int64
	inTable := false
	for {
		tag, err := r.ReadByte()
		if err != nil {
			return fail(err)
		}
		switch tag {
		case 'T':
			if inTable {
				return fail(errors.New("a table starts inside another"))
			}
			if name, err = readString(); err != nil {
				return fail(err)
			}
			n, err := binary.ReadUvarint(r)
			if err != nil || n > 1000 {
				return fail(fmt.Errorf("table %s: bad column count", name))
			}
			cols := make([]string, n)
			for i := range cols {
				if cols[i], err = readString(); err != nil {
					return fail(err)
				}
			}
			ncols, rows, inTable = int(n), 0, true
			if err := h.table(name, cols); err != nil {
				return err
			}
		case 'R':
			if !inTable {
				return fail(errors.New("a row outside a table"))
			}
			row := make([]any, ncols)
			for i := range row {
				vt, err := r.ReadByte()
				if err != nil {
					return fail(err)
				}
				switch vt {
				case 'n':
				case 'i':
					v, err := binary.ReadVarint(r)
					if err != nil {
						return fail(err)
					}
					row[i] = v
				case 's':
					s, err := readString()
					if err != nil {
						return fail(err)
					}
					row[i] = s
				case 'b':
					s, err := readString()
					if err != nil {
						return fail(err)
					}
					row[i] = []byte(s)
				case 'f':
					var b [8]byte
					if _, err := io.ReadFull(r, b[:]); err != nil {
						return fail(err)
					}
					row[i] = math.Float64frombits(binary.BigEndian.Uint64(b[:]))
				case 't':
					row[i] = true
				case 'F':
					row[i] = false
				default:
					return fail(fmt.Errorf("table %s: unknown value tag %q", name, vt))
				}
			}
			rows++
			if err := h.row(row); err != nil {
				return err
			}
		case 'E':
			n, err := binary.ReadUvarint(r)
			if err != nil {
				return fail(err)
			}
			if !inTable || int64(n) != rows {
				return fail(fmt.Errorf("table %s ends after %d rows but says %d", name, rows, n))
			}
			inTable = false
			if err := h.end(name, rows); err != nil {
				return err
			}
		case 'Z':
			if inTable {
				return fail(fmt.Errorf("table %s is cut short", name))
			}
			return nil
		default:
			return fail(fmt.Errorf("unknown record tag %q", tag))
		}
	}
}

// rowDigest is a fingerprint of a table's rows that does not depend on their order: the sum, modulo 2^256, of
// the SHA-256 of each row's canonical encoding. Text and bytes encode alike, and every integer as 64 bits, so
// that the same rows give the same digest on SQLite and PostgreSQL.
type rowDigest struct {
	sum [4]uint64
	buf []byte
}

func (d *rowDigest) add(vals []any) {
	b := d.buf[:0]
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			b = append(b, 0)
		case int64:
			b = append(b, 1)
			b = binary.BigEndian.AppendUint64(b, uint64(x))
		case bool:
			b = append(b, 1)
			if x {
				b = binary.BigEndian.AppendUint64(b, 1)
			} else {
				b = binary.BigEndian.AppendUint64(b, 0)
			}
		case string:
			b = append(b, 2)
			b = appendString(b, x)
		case []byte:
			b = append(b, 2)
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		case float64:
			b = append(b, 3)
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
		default:
			b = append(b, 4)
			b = fmt.Appendf(b, "%v", x)
		}
	}
	d.buf = b
	h := sha256.Sum256(b)
	var carry uint64
	for i := 3; i >= 0; i-- {
		d.sum[i], carry = bits.Add64(d.sum[i], binary.BigEndian.Uint64(h[i*8:]), carry)
	}
}

func (d *rowDigest) String() string {
	var b [32]byte
	for i, v := range d.sum {
		binary.BigEndian.PutUint64(b[i*8:], v)
	}
	return hex.EncodeToString(b[:])
}

// tableDigest reads every row of t in a snapshot and returns the count and digest.
func tableDigest(ctx context.Context, snap *store.Snapshot, t store.Table) (int64, string, error) {
	var d rowDigest
	var n int64
	err := snap.Scan(ctx, t, func(row []any) error {
		n++
		d.add(row)
		return nil
	})
	return n, d.String(), err
}
