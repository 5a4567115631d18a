package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
)

// An image is one zstd stream holding, uncompressed:
//
//	imageMagic
//	manifest length, 4 bytes big-endian (at most maxManifestBytes)
//	manifest, JSON
//	every file's bytes, in the manifest's order, exactly its size each
//
// and nothing after. The manifest comes first so that a receiver checks the
// format, the task and every size against its limits before it writes a
// byte, and so that the image's address (the SHA-256 of the manifest bytes,
// which name every file's SHA-256) is known before the bulk is sent.
const (
	// FormatVersion is the version this build writes; Unpack reads it and
	// every older one (there is none yet). Bump it for any change to the
	// layout above or to the meaning of a manifest field, and keep a golden
	// image of each version in testdata.
	FormatVersion = 1

	imageMagic       = "scavenge checkpoint image\n"
	maxManifestBytes = 4 << 20 // ~30,000 files at the longest paths
)

// Errors of Unpack, for errors.Is; the error's text names the file and the
// field at fault.
var (
	ErrNotImage  = errors.New("not a scavenge checkpoint image")
	ErrFormat    = errors.New("unsupported checkpoint image format")
	ErrCorrupt   = errors.New("corrupt checkpoint image")
	ErrTruncated = errors.New("truncated checkpoint image")
	ErrTooLarge  = errors.New("checkpoint image over the size limit")
)

// Manifest describes an image: what took it, for which task, and its files.
type Manifest struct {
	Format  int       `json:"format"`
	Backend string    `json:"backend"` // CRIU, Signal
	Task    string    `json:"task"`    // the task's identity, as the engine names it
	Created time.Time `json:"created"`
	// Arch is the GOARCH of the machine that took it: a criu image
	// restores only on the same architecture.
	Arch string `json:"arch"`
	// Meta holds what a backend needs to know at restore (criu's version,
	// the kernel), never anything the format depends on.
	Meta  map[string]string `json:"meta,omitempty"`
	Files []File            `json:"files"`

	// ID is the image's content address: the hex SHA-256 of the encoded
	// manifest. Pack and Unpack set it; it is not part of the encoding.
	ID string `json:"-"`
}

// File is one file of an image.
type File struct {
	Path   string `json:"path"` // slash-separated, relative, clean
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
	Mode   uint32 `json:"mode"`   // permission bits
}

// Limits cap what Unpack accepts, so that a broken or hostile peer cannot
// fill the disk. Zero fields take DefaultLimits' values.
type Limits struct {
	MaxFiles      int
	MaxFileBytes  int64
	MaxTotalBytes int64
}

// DefaultLimits fit a criu dump of a guest of up to 16 GiB of memory.
var DefaultLimits = Limits{MaxFiles: 10_000, MaxFileBytes: 16 << 30, MaxTotalBytes: 16 << 30}

func (l Limits) orDefault() Limits {
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultLimits.MaxFileBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = DefaultLimits.MaxTotalBytes
	}
	return l
}

// TotalBytes is the sum of the files' sizes.
func (m *Manifest) TotalBytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// validate checks a manifest read from a peer against the format and lim,
// naming the field at fault.
func (m *Manifest) validate(lim Limits) error {
	switch {
	case m.Format < 1:
		return fmt.Errorf("%w: manifest field format is %d", ErrCorrupt, m.Format)
	case m.Format > FormatVersion:
		return fmt.Errorf("%w: version %d, this build reads up to %d", ErrFormat, m.Format, FormatVersion)
	case m.Backend == "":
		return fmt.Errorf("%w: manifest field backend is empty", ErrCorrupt)
	case m.Task == "":
		return fmt.Errorf("%w: manifest field task is empty", ErrCorrupt)
	case len(m.Files) > lim.MaxFiles:
		return fmt.Errorf("%w: %d files, the limit is %d", ErrTooLarge, len(m.Files), lim.MaxFiles)
	}
	seen := make(map[string]bool, len(m.Files))
	var total int64
	for i, f := range m.Files {
		if err := f.validate(lim); err != nil {
			return fmt.Errorf("manifest files[%d]: %w", i, err)
		}
		if seen[f.Path] {
			return fmt.Errorf("%w: manifest files[%d]: %s listed twice", ErrCorrupt, i, f.Path)
		}
		seen[f.Path] = true
		total += f.Size
		if total > lim.MaxTotalBytes {
			return fmt.Errorf("%w: files add up to more than %d bytes", ErrTooLarge, lim.MaxTotalBytes)
		}
	}
	return nil
}

func (f File) validate(lim Limits) error {
	if !validPath(f.Path) {
		return fmt.Errorf("%w: path %q is not a clean relative path", ErrCorrupt, f.Path)
	}
	if f.Size < 0 {
		return fmt.Errorf("%w: %s: size %d", ErrCorrupt, f.Path, f.Size)
	}
	if f.Size > lim.MaxFileBytes {
		return fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, f.Path, f.Size, lim.MaxFileBytes)
	}
	if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%w: %s: sha256 %q is not 64 hex digits", ErrCorrupt, f.Path, f.SHA256)
	}
	if f.Mode&^0o777 != 0 {
		return fmt.Errorf("%w: %s: mode %o has more than permission bits", ErrCorrupt, f.Path, f.Mode)
	}
	return nil
}

// validPath accepts clean, relative, slash-separated paths that stay
// inside the folder on every OS: no "..", no backslash, no drive letter.
func validPath(p string) bool {
	if p == "" || len(p) > 1024 || path.Clean(p) != p || path.IsAbs(p) || p == "." {
		return false
	}
	if strings.ContainsAny(p, "\\:\x00") {
		return false
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return false
		}
	}
	return true
}
