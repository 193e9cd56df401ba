package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/svcauth/svcauth/filter/session"
	"github.com/svcauth/svcauth/issuer/domain"
)

// rsaKeyWrapInfo derives the AES-256-GCM key that seals RS256 private keys
// at rest: the database alone reveals no signing key, and a sealed key
// opens only under the master key that sealed it.
const rsaKeyWrapInfo = "svcauth/rsa-key-wrap/v1"

// NewRSAKey generates an RS256 session key: 2048 bits, e = 65537, the shape
// of Cloudflare Access's signing keys.
func NewRSAKey() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, session.MinRSABits)
}

// RSAKeyMaterial returns the stored form of priv as app key kid of aud: the
// PKIX DER public key and the PKCS #8 private key sealed with AES-256-GCM
// (nonce first), the aud and kid as additional data so that a sealed key
// copied to another app's or version's row does not open.
func (k *Keyring) RSAKeyMaterial(aud, kid string, priv *rsa.PrivateKey) (domain.AppKey, error) {
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return domain.AppKey{}, err
	}
	plain, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return domain.AppKey{}, err
	}
	gcm, err := k.rsaWrap()
	if err != nil {
		return domain.AppKey{}, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return domain.AppKey{}, err
	}
	sealed := gcm.Seal(nonce, nonce, plain, wrapAAD(aud, kid))
	clear(plain)
	return domain.AppKey{Algorithm: session.RS256, PublicKey: pub, SealedPrivateKey: sealed}, nil
}

// OpenRSAKey returns the private key of RS256 key kid of aud, checking that
// it matches the stored public key.
func (k *Keyring) OpenRSAKey(aud, kid string, key domain.AppKey) (*rsa.PrivateKey, error) {
	gcm, err := k.rsaWrap()
	if err != nil {
		return nil, err
	}
	ns := gcm.NonceSize()
	if len(key.SealedPrivateKey) < ns+gcm.Overhead() {
		return nil, fmt.Errorf("keys: sealed RSA key %s is truncated", kid)
	}
	plain, err := gcm.Open(nil, key.SealedPrivateKey[:ns], key.SealedPrivateKey[ns:], wrapAAD(aud, kid))
	if err != nil {
		return nil, fmt.Errorf("keys: sealed RSA key %s does not open under this master key", kid)
	}
	defer clear(plain)
	parsed, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("keys: RSA key %s: %w", kid, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keys: key %s is not an RSA key", kid)
	}
	pub, err := RSAPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", kid, err)
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, fmt.Errorf("keys: RSA key %s: private and public halves differ", kid)
	}
	return priv, nil
}

// RSAPublicKey returns the public key of an RS256 app key.
func RSAPublicKey(key domain.AppKey) (*rsa.PublicKey, error) {
	if !key.IsRSA() {
		return nil, errors.New("not an RS256 key")
	}
	parsed, err := x509.ParsePKIXPublicKey(key.PublicKey)
	if err != nil {
		return nil, err
	}
	pub, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("public key is not RSA")
	}
	return pub, session.CheckRSAPublicKey(pub)
}

func (k *Keyring) rsaWrap() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.derive(rsaKeyWrapInfo))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func wrapAAD(aud, kid string) []byte {
	return []byte("svcauth rsa session key\x00" + aud + "\x00" + kid)
}

// Signer returns the Signer of app key key of aud: the derived HMAC key of
// an HS256 version, the opened private key of an RS256 one.
func (k *Keyring) Signer(aud string, key domain.AppKey) (*session.Signer, error) {
	kid := domain.KeyID(aud, key.Version)
	if !key.IsRSA() {
		return session.NewSigner(k.SessionKey(aud, key.Version))
	}
	priv, err := k.OpenRSAKey(aud, kid, key)
	if err != nil {
		return nil, err
	}
	return session.NewRSASigner(kid, priv)
}

// VerifyKey returns what verifies sessions of app key key of aud: the
// derived HMAC key of an HS256 version (a secret: only filters get it), the
// public key of an RS256 one.
func (k *Keyring) VerifyKey(aud string, key domain.AppKey) (session.Key, error) {
	if !key.IsRSA() {
		return k.SessionKey(aud, key.Version), nil
	}
	pub, err := RSAPublicKey(key)
	if err != nil {
		return session.Key{}, fmt.Errorf("keys: key %s: %w", domain.KeyID(aud, key.Version), err)
	}
	return session.Key{ID: domain.KeyID(aud, key.Version), Public: pub}, nil
}
