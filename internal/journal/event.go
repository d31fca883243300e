// Package journal is the append-only record of every fact (I2, I3): events with a canonical encoding, the
// RFC 6962 Merkle tree whose leaves they are, signed checkpoints and proofs. It knows nothing of SQL: the
// storage engines keep the bytes and call this package to hash, sign and check them.
package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Event is one recorded fact. Its canonical encoding (Encode) is the Merkle leaf; the columns a store keeps
// beside it (type, region, person, employer, period) are copies for indexing and are checked against it.
type Event struct {
	Seq        int64           // leaf index, from 0, assigned by the journal on append
	Type       string          // e.g. "contribution.posted"; see record.EventTypes
	Region     string          // 6-digit region code of the agency that recorded it
	Person     string          // person key, "" when the event is not about one person
	Employer   string          // unified social credit code, "" when none
	At         time.Time       // when it was recorded (the approving transaction's time)
	Source     string          // the approved draft, batch or procedure it came from
	Supersedes int64           // seq+1 of the event this one corrects or voids; 0 for none
	Data       json.RawMessage // the type's payload: canonical JSON (compact, fields in a fixed order)
}

// SupersededSeq returns the seq of the superseded event and whether there is one. The stored value is seq+1 so
// that the zero value means "none" while event 0 can still be corrected.
func (e *Event) SupersededSeq() (int64, bool) { return e.Supersedes - 1, e.Supersedes > 0 }

// Encode returns the canonical encoding: a compact JSON object with its keys in alphabetical order and time as
// milliseconds since the Unix epoch. It is deterministic: the same event gives the same bytes on any engine.
func (e *Event) Encode() []byte {
	return e.AppendEncode(make([]byte, 0, 160+len(e.Data)))
}

// AppendEncode appends the canonical encoding to b.
func (e *Event) AppendEncode(b []byte) []byte {
	b = append(b, `{"at":`...)
	b = strconv.AppendInt(b, e.At.UnixMilli(), 10)
	b = append(b, `,"data":`...)
	if len(e.Data) == 0 {
		b = append(b, `{}`...)
	} else {
		b = append(b, e.Data...)
	}
	if e.Employer != "" {
		b = append(b, `,"employer":`...)
		b = appendQuote(b, e.Employer)
	}
	if e.Person != "" {
		b = append(b, `,"person":`...)
		b = appendQuote(b, e.Person)
	}
	b = append(b, `,"region":`...)
	b = appendQuote(b, e.Region)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	if e.Source != "" {
		b = append(b, `,"source":`...)
		b = appendQuote(b, e.Source)
	}
	if e.Supersedes != 0 {
		b = append(b, `,"supersedes":`...)
		b = strconv.AppendInt(b, e.Supersedes, 10)
	}
	b = append(b, `,"type":`...)
	b = appendQuote(b, e.Type)
	return append(b, '}')
}

// appendQuote appends s quoted as strconv.AppendQuote does — the canonical encoding is defined by it — taking
// a short cut for the common case of printable ASCII with nothing to escape, which it leaves as it is.
func appendQuote(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

type wireEvent struct {
	At         int64           `json:"at"`
	Data       json.RawMessage `json:"data"`
	Employer   string          `json:"employer"`
	Person     string          `json:"person"`
	Region     string          `json:"region"`
	Seq        int64           `json:"seq"`
	Source     string          `json:"source"`
	Supersedes int64           `json:"supersedes"`
	Type       string          `json:"type"`
}

// Decode parses a canonical encoding and checks that re-encoding gives the same bytes, so that two different
// byte strings can never stand for the same event.
func Decode(body []byte) (Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("event is not valid JSON: %w", err)
	}
	e := Event{Seq: w.Seq, Type: w.Type, Region: w.Region, Person: w.Person, Employer: w.Employer,
		At: time.UnixMilli(w.At).UTC(), Source: w.Source, Supersedes: w.Supersedes, Data: w.Data}
	if !bytes.Equal(e.Encode(), body) {
		return Event{}, fmt.Errorf("event encoding is not canonical")
	}
	return e, nil
}

var hasher = rfc6962.DefaultHasher

// LeafHash returns the RFC 6962 leaf hash of an encoded event: SHA-256(0x00 || body).
func LeafHash(body []byte) []byte { return hasher.HashLeaf(body) }

// LeafHasher computes leaf hashes without allocating: it keeps one SHA-256 state. The zero value is ready;
// it is not safe for concurrent use.
type LeafHasher struct{ h hash.Hash }

var leafPrefix = []byte{rfc6962.RFC6962LeafHashPrefix}

// Sum sets *dst to the leaf hash of an encoded event, the same as LeafHash.
func (l *LeafHasher) Sum(dst *[32]byte, body []byte) {
	if l.h == nil {
		l.h = sha256.New()
	}
	l.h.Reset()
	l.h.Write(leafPrefix)
	l.h.Write(body)
	l.h.Sum(dst[:0])
}
