package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// PEM block types of the key files. A public key file may hold several public keys
// (say, the current and the next release key), each in its own block.
const (
	publicKeyBlock  = "IZYTRONIQ RELEASE PUBLIC KEY"
	privateKeyBlock = "IZYTRONIQ RELEASE PRIVATE KEY"
)

// Key file names written by WriteKeyPair.
const (
	PrivateKeyFile = "release.key"
	PublicKeyFile  = "release.pub"
)

// GenerateKey makes a new release signing key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate release key: %w", err)
	}
	return pub, priv, nil
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex. Signatures carry
// it so a verifier knows which key to try and can say which one it does not trust.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// MarshalPublicKey encodes pub as a PEM block of the raw 32-byte key, with its key ID
// as a header for people.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{
		Type:    publicKeyBlock,
		Headers: map[string]string{"Key-Id": KeyID(pub)},
		Bytes:   pub,
	})
}

// MarshalPrivateKey encodes priv as a PEM block of its 32-byte seed.
func MarshalPrivateKey(priv ed25519.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{
		Type:    privateKeyBlock,
		Headers: map[string]string{"Key-Id": KeyID(priv.Public().(ed25519.PublicKey))},
		Bytes:   priv.Seed(),
	})
}

// ParsePublicKeys decodes every public key block in data; there must be at least one
// and nothing but key blocks and white space.
func ParsePublicKeys(data []byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case publicKeyBlock:
		case privateKeyBlock:
			return nil, fmt.Errorf("this is a private release key; trust the public key (%s) instead", PublicKeyFile)
		default:
			return nil, fmt.Errorf("unexpected block %q; want %q", b.Type, publicKeyBlock)
		}
		if len(b.Bytes) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("public key is %d bytes, want %d", len(b.Bytes), ed25519.PublicKeySize)
		}
		keys = append(keys, ed25519.PublicKey(b.Bytes))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no %q block found", publicKeyBlock)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("unexpected text after the last key block")
	}
	return keys, nil
}

// ParsePrivateKey decodes a private key block.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	b, rest := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("no %q block found", privateKeyBlock)
	}
	if b.Type == publicKeyBlock {
		return nil, fmt.Errorf("this is a public release key; signing needs the private key (%s)", PrivateKeyFile)
	}
	if b.Type != privateKeyBlock {
		return nil, fmt.Errorf("unexpected block %q; want %q", b.Type, privateKeyBlock)
	}
	if len(b.Bytes) != ed25519.SeedSize {
		return nil, fmt.Errorf("private key seed is %d bytes, want %d", len(b.Bytes), ed25519.SeedSize)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("unexpected text after the key block")
	}
	return ed25519.NewKeyFromSeed(b.Bytes), nil
}

// ReadPublicKeys reads the public keys in the file at path.
func ReadPublicKeys(path string) ([]ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trusted release key: %w", err)
	}
	keys, err := ParsePublicKeys(data)
	if err != nil {
		return nil, fmt.Errorf("trusted release key %s: %w", path, err)
	}
	return keys, nil
}

// ReadPrivateKey reads the private key in the file at path.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read release signing key: %w", err)
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("release signing key %s: %w", path, err)
	}
	return key, nil
}

// WriteKeyPair writes release.key (mode 0600) and release.pub into dir, which it creates
// if needed. It never overwrites an existing key: losing a signing key strands every
// installation that trusts it.
func WriteKeyPair(dir string, pub ed25519.PublicKey, priv ed25519.PrivateKey) (privPath, pubPath string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create key directory: %w", err)
	}
	privPath, pubPath = filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", "", fmt.Errorf("%s already exists; move it away or choose another --out directory", p)
		}
	}
	if err := writeNew(privPath, MarshalPrivateKey(priv), 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(pubPath, MarshalPublicKey(pub), 0o644); err != nil {
		os.Remove(privPath)
		return "", "", err
	}
	return privPath, pubPath, nil
}

// writeNew creates path exclusively with mode perm and writes data to it.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}
