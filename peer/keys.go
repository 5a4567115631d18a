package peer

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/pnet"
)

// LoadOrCreateIdentity returns the Ed25519 key stored at path (libp2p's
// protobuf key encoding), creating it with mode 0600 when the file does not
// exist. The peer ID is derived from this key, so losing the file means the
// peer becomes a stranger to everyone's allowlist.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	b, err := readPrivate(path, "identity")
	if errors.Is(err, fs.ErrNotExist) {
		key, _, gerr := crypto.GenerateEd25519Key(rand.Reader)
		if gerr != nil {
			return nil, fmt.Errorf("identity %s: generate key: %w", path, gerr)
		}
		enc, merr := crypto.MarshalPrivateKey(key)
		if merr != nil {
			return nil, fmt.Errorf("identity %s: encode key: %w", path, merr)
		}
		err = writeNewFile(path, enc)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("identity %s: %w", path, err)
		}
		// Another process created it between our read and our write: use theirs.
		b, err = readPrivate(path, "identity")
	}
	if err != nil {
		return nil, err
	}
	key, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("identity %s: not a libp2p private key: %w", path, err)
	}
	return key, nil
}

// readPrivate reads a key file that must be private to its owner.
func readPrivate(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer f.Close()
	if err := checkPrivate(f, what); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return b, nil
}

// maxKeyFile bounds what is read of a key file: keys are a few hundred bytes.
const maxKeyFile = 64 << 10

// swarmKeyHeader is the standard IPFS/libp2p pre-shared key file header.
const swarmKeyHeader = "/key/swarm/psk/1.0.0/\n/base16/\n"

// GenerateSwarmKey writes a new random swarm key to path in the standard
// format ("/key/swarm/psk/1.0.0/", "/base16/", 64 hex digits) with mode 0600.
// It refuses to overwrite an existing file: replacing a swarm key silently
// cuts the peer off from its swarm.
func GenerateSwarmKey(path string) error {
	psk := make([]byte, SwarmKeySize)
	if _, err := rand.Read(psk); err != nil {
		return fmt.Errorf("swarm key %s: %w", path, err)
	}
	data := swarmKeyHeader + hex.EncodeToString(psk) + "\n"
	if err := writeNewFile(path, []byte(data)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("swarm key %s already exists: refusing to overwrite it", path)
		}
		return fmt.Errorf("swarm key %s: %w", path, err)
	}
	return nil
}

// LoadSwarmKey reads a swarm key file in the standard format.
func LoadSwarmKey(path string) ([]byte, error) {
	b, err := readPrivate(path, "swarm key")
	if err != nil {
		return nil, err
	}
	psk, err := pnet.DecodeV1PSK(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("swarm key %s: not a /key/swarm/psk/1.0.0/ file: %w", path, err)
	}
	if len(psk) != SwarmKeySize {
		return nil, fmt.Errorf("swarm key %s: key is %d bytes, want %d", path, len(psk), SwarmKeySize)
	}
	return psk, nil
}

// SwarmName is a short public name for the swarm of psk, used in the gossipsub
// topic, the DHT rendezvous key and the mDNS service name. It is a hash of the
// key under a fixed domain string, so it names the swarm without revealing the
// key. It is "public" when psk is nil.
func SwarmName(psk []byte) string {
	if psk == nil {
		return "public"
	}
	h := sha256.New()
	h.Write([]byte("scavenge swarm name v1\x00"))
	h.Write(psk)
	sum := h.Sum(nil)
	// 10 bytes (80 bits) is plenty to keep a handful of office swarms apart
	// and encodes to exactly 16 base32 characters.
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:10]))
}

// writeNewFile creates path with data and mode 0600 atomically: the content is
// written to a temporary file and hard-linked into place, so a reader never
// sees a partial key and an existing file is never replaced (fs.ErrExist).
func writeNewFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}
