//go:build unix

package scavenger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckWorkDir(t *testing.T) {
	base := t.TempDir()
	mine := filepath.Join(base, "mine")
	if err := os.Mkdir(mine, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := checkWorkDir(mine); err != nil {
		t.Fatalf("own directory refused: %v", err)
	}
	if fi, _ := os.Stat(mine); fi.Mode().Perm() != workDirMode {
		t.Errorf("mode = %v, want %v: a loose mode is tightened", fi.Mode().Perm(), os.FileMode(workDirMode))
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(mine, link); err != nil {
		t.Fatal(err)
	}
	if err := checkWorkDir(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlinked work dir: err = %v, want a refusal naming the symlink", err)
	}
	if os.Geteuid() != 0 {
		return // only root can make a directory that belongs to someone else
	}
	theirs := filepath.Join(base, "theirs")
	if err := os.Mkdir(theirs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(theirs, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := checkWorkDir(theirs); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("someone else's work dir: err = %v, want a refusal naming the owner", err)
	}
}
