// Package keys holds the issuer's key material: the master key, the per-app
// session keys derived from it, and the peppers that key the hashes of
// service-token secrets and admin keys.
package keys

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
)

// MasterKeySize is the size of the master key in bytes.
const MasterKeySize = 32

// EnvMasterKey names the environment variable that, when set, holds the
// master key (base64 of 32 bytes) and overrides the key file.
const EnvMasterKey = "SVCAUTH_MASTER_KEY"

// HKDF info strings. Changing one invalidates every value derived with it.
const (
	sessionKeyInfo  = "svcauth/session-key/v1/"
	secretPepperInf = "svcauth/secret-pepper/v1"
	adminPepperInfo = "svcauth/admin-key-pepper/v1"
)

// Source says where LoadMaster found the master key.
type Source string

// Master key sources.
const (
	SourceEnv       Source = "env"
	SourceFile      Source = "file"
	SourceGenerated Source = "generated"
)

// LoadMaster returns the master key: from env value envValue when it is not
// empty, else from the file at path, which is created (mode 0600, holding
// the base64 key) when it does not exist.
func LoadMaster(path, envValue string) ([]byte, Source, error) {
	if envValue != "" {
		key, err := decodeMaster(envValue)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		return key, SourceEnv, nil
	}
	if path == "" {
		return nil, "", errors.New("master key: no file given and " + EnvMasterKey + " not set")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, MasterKeySize)
		rand.Read(key)
		if err := writeNewFile(path, base64.StdEncoding.EncodeToString(key)+"\n"); err != nil {
			return nil, "", fmt.Errorf("master key: %w", err)
		}
		return key, SourceGenerated, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("master key: %w", err)
	}
	key, err := decodeMaster(string(b))
	if err != nil {
		return nil, "", fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, SourceFile, nil
}

func decodeMaster(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var key []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("decodes to %d bytes, want %d", len(key), MasterKeySize)
	}
	return key, nil
}

// WriteSecretFile writes content to a new file at path with mode 0600. It
// refuses to overwrite an existing file.
func WriteSecretFile(path, content string) error { return writeNewFile(path, content) }

func writeNewFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// Keyring derives every key the issuer uses from the master key.
type Keyring struct {
	master       []byte
	secretPepper []byte
	adminPepper  []byte
	// secretMACs holds HMAC states keyed with secretPepper: HashSecret
	// runs on every exchange, and keying an HMAC costs two extra blocks.
	secretMACs sync.Pool
}

// New returns the Keyring of master, which must be MasterKeySize bytes.
func New(master []byte) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("keys: master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	k := &Keyring{master: append([]byte(nil), master...)}
	k.secretPepper = k.derive(secretPepperInf)
	k.adminPepper = k.derive(adminPepperInfo)
	k.secretMACs.New = func() any { return &secretMAC{mac: hmac.New(sha256.New, k.secretPepper)} }
	return k, nil
}

func (k *Keyring) derive(info string) []byte {
	out, err := hkdf.Key(sha256.New, k.master, nil, info, 32)
	if err != nil {
		panic("keys: hkdf: " + err.Error()) // only for lengths far beyond 32
	}
	return out
}

// SessionKey returns the HMAC key an app's session JWTs are signed with:
// HKDF-SHA256(master, salt nil, info "svcauth/session-key/v1/<aud>/<kid>"),
// 32 bytes, with kid = aud[:12] + ".v" + version.
func (k *Keyring) SessionKey(aud string, version int) session.Key {
	kid := domain.KeyID(aud, version)
	return session.Key{ID: kid, Secret: k.derive(sessionKeyInfo + aud + "/" + kid)}
}

// HashSecret returns the keyed hash stored for a service-token secret:
// HMAC-SHA-256(pepper, secret), pepper = HKDF(master, "svcauth/secret-pepper/v1").
func (k *Keyring) HashSecret(secret string) []byte {
	return k.AppendSecretHash(nil, secret)
}

// AppendSecretHash appends HashSecret(secret) to dst. With room in dst and
// a secret of usual length it allocates nothing: the exchange hashes a
// secret per request.
func (k *Keyring) AppendSecretHash(dst []byte, secret string) []byte {
	st := k.secretMACs.Get().(*secretMAC)
	st.mac.Reset()
	// Through the pooled buffer: []byte(secret) would escape into the
	// hash.Hash interface and be allocated per call.
	if len(secret) <= len(st.buf) {
		st.mac.Write(st.buf[:copy(st.buf[:], secret)])
	} else {
		st.mac.Write([]byte(secret))
	}
	sum := st.mac.Sum(st.sum[:0])
	dst = append(dst, sum...)
	k.secretMACs.Put(st)
	return dst
}

// secretMAC is a pooled HMAC state keyed with the secret pepper, with the
// buffers it reads and writes.
type secretMAC struct {
	mac hash.Hash
	buf [128]byte // a secret of usual length (60 characters; 64 imported)
	sum [sha256.Size]byte
}

// HashAdminKey returns the keyed hash stored for an admin key (with its own
// pepper, so the two kinds of hash never collide).
func (k *Keyring) HashAdminKey(key string) []byte {
	m := hmac.New(sha256.New, k.adminPepper)
	m.Write([]byte(key))
	return m.Sum(nil)
}

// AdminKeyPrefix starts every admin key, so secret scanners can find them.
const AdminKeyPrefix = "svcauth_ak_"

const (
	base62       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	adminBodyLen = 43 // 256 bits of base62
)

// AdminKeyLength is the length of every admin key.
const AdminKeyLength = len(AdminKeyPrefix) + adminBodyLen

// NewAdminKey returns a fresh random admin key.
func NewAdminKey() string {
	out := make([]byte, 0, AdminKeyLength)
	out = append(out, AdminKeyPrefix...)
	var buf [64]byte
	for len(out) < AdminKeyLength {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 248 && len(out) < AdminKeyLength { // 248 = 4*62 keeps digits uniform
				out = append(out, base62[c%62])
			}
		}
	}
	return string(out)
}

// ValidAdminKey reports whether s has the shape of an admin key.
func ValidAdminKey(s string) bool {
	if len(s) != AdminKeyLength || !strings.HasPrefix(s, AdminKeyPrefix) {
		return false
	}
	for i := len(AdminKeyPrefix); i < len(s); i++ {
		if !strings.ContainsRune(base62, rune(s[i])) {
			return false
		}
	}
	return true
}
