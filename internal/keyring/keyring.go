// Package keyring keeps the agency's secrets outside the database (I3, I7): the Ed25519 key that signs journal
// checkpoints (C2SP signed-note format) and the keys that encrypt citizen ID numbers (AES-GCM) and index them
// (HMAC-SHA-256). Files live in one folder with mode 0600; by default beside the SQLite file.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// File names inside the key folder.
const (
	SigningKeyFile  = "checkpoint.key" // note private key: PRIVATE+KEY+<origin>+<hash>+<key>
	VerifierKeyFile = "checkpoint.pub" // note verifier key, safe to hand to auditors
	PIIKeyFile      = "pii.key"        // base64 of 64 random bytes: 32 for AES-256-GCM, 32 for HMAC
)

// ErrNoKeys is returned by Load when the folder holds no keys yet.
var ErrNoKeys = errors.New("no keys in the key folder; run `sirec init` first")

// Keyring holds the loaded keys.
type Keyring struct {
	Dir      string
	Origin   string // checkpoint origin line, e.g. "sirec.agency/110105"
	Signer   note.Signer
	Verifier note.Verifier
	VKey     string // the verifier key text
	aead     cipher.AEAD
	macKey   []byte
}

// Exists reports whether dir holds a signing key.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, SigningKeyFile))
	return err == nil
}

// Create makes a new key folder with fresh keys for origin. It refuses to overwrite existing keys.
func Create(dir, origin string) (*Keyring, error) {
	if Exists(dir) {
		return nil, fmt.Errorf("keys already exist in %s; refusing to overwrite them", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, err
	}
	pii := make([]byte, 64)
	if _, err := rand.Read(pii); err != nil {
		return nil, err
	}
	files := []struct {
		name, text string
	}{
		{PIIKeyFile, base64.StdEncoding.EncodeToString(pii) + "\n"},
		{VerifierKeyFile, vkey + "\n"},
		{SigningKeyFile, skey + "\n"},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte(f.text), 0o600); err != nil {
			return nil, err
		}
	}
	return Load(dir)
}

// Load reads the keys in dir. Key files readable by others are refused.
func Load(dir string) (*Keyring, error) {
	if !Exists(dir) {
		return nil, ErrNoKeys
	}
	read := func(name string) (string, error) {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		if name != VerifierKeyFile && st.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%s has mode %v; secret key files must be 0600", p, st.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		return strings.TrimSpace(string(b)), err
	}
	skey, err := read(SigningKeyFile)
	if err != nil {
		return nil, err
	}
	vkey, err := read(VerifierKeyFile)
	if err != nil {
		return nil, err
	}
	piiText, err := read(PIIKeyFile)
	if err != nil {
		return nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", SigningKeyFile, err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", VerifierKeyFile, err)
	}
	if verifier.Name() != signer.Name() || verifier.KeyHash() != signer.KeyHash() {
		return nil, fmt.Errorf("%s and %s are not a pair", SigningKeyFile, VerifierKeyFile)
	}
	pii, err := base64.StdEncoding.DecodeString(piiText)
	if err != nil || len(pii) != 64 {
		return nil, fmt.Errorf("%s must hold 64 bytes in base64", PIIKeyFile)
	}
	block, err := aes.NewCipher(pii[:32])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keyring{Dir: dir, Origin: signer.Name(), Signer: signer, Verifier: verifier, VKey: vkey, aead: aead, macKey: pii[32:]}, nil
}

// LoadVerifier reads only the public verifier key: all that verification needs (I3).
func LoadVerifier(dir string) (note.Verifier, error) {
	b, err := os.ReadFile(filepath.Join(dir, VerifierKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoKeys
	}
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(strings.TrimSpace(string(b)))
}

// IndexID returns the keyed hash (HMAC-SHA-256, hex, 32 characters) by which a citizen ID number is found.
func (k *Keyring) IndexID(id string) string {
	m := hmac.New(sha256.New, k.macKey)
	m.Write([]byte("id-index\x00"))
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// SealID encrypts a citizen ID number with AES-256-GCM. The nonce is derived from the number by a separate
// HMAC (a synthetic IV), so the same number always seals to the same bytes: journal events stay deterministic
// and replays reproduce them, and equality is revealed no more than the index already reveals it.
func (k *Keyring) SealID(id string) []byte {
	m := hmac.New(sha256.New, k.macKey)
	m.Write([]byte("id-nonce\x00"))
	m.Write([]byte(id))
	nonce := m.Sum(nil)[:k.aead.NonceSize()]
	return k.aead.Seal(append([]byte(nil), nonce...), nonce, []byte(id), []byte("citizen-id"))
}

// OpenID decrypts what SealID produced.
func (k *Keyring) OpenID(sealed []byte) (string, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed ID too short")
	}
	b, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte("citizen-id"))
	if err != nil {
		return "", errors.New("sealed ID does not decrypt with this key")
	}
	return string(b), nil
}

// Seal encrypts data at rest (draft payloads holding ID numbers in clear) with AES-256-GCM and a random nonce;
// label binds the ciphertext to its use.
func (k *Keyring) Seal(data []byte, label string) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return k.aead.Seal(nonce, nonce, data, []byte(label))
}

// Open decrypts what Seal produced with the same label.
func (k *Keyring) Open(sealed []byte, label string) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed data too short")
	}
	b, err := k.aead.Open(nil, sealed[:n], sealed[n:], []byte(label))
	if err != nil {
		return nil, errors.New("sealed data does not decrypt with this key: changed or wrong key")
	}
	return b, nil
}
