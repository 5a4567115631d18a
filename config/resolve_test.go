package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name                         string
		identity, swarmKey, workDir  string
		wantID, wantKey, wantWorkDir string
	}{
		{"defaults", "identity.key", "swarm.key", "",
			filepath.Join(home, "identity.key"), filepath.Join(home, "swarm.key"), ""},
		{"nested relative", "keys/id.key", "../shared/swarm.key", "work",
			filepath.Join(home, "keys/id.key"), filepath.Join(filepath.Dir(home), "shared/swarm.key"), filepath.Join(home, "work")},
		{"absolute stays", "/etc/scavenge/id.key", "", "/var/tmp/scavenge",
			"/etc/scavenge/id.key", "", "/var/tmp/scavenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Node.Identity, c.Node.SwarmKey, c.Donor.WorkDir = tt.identity, tt.swarmKey, tt.workDir
			got := c.Resolve(home)
			if got.Node.Identity != tt.wantID || got.Node.SwarmKey != tt.wantKey || got.Donor.WorkDir != tt.wantWorkDir {
				t.Errorf("Resolve = (%q, %q, %q), want (%q, %q, %q)",
					got.Node.Identity, got.Node.SwarmKey, got.Donor.WorkDir, tt.wantID, tt.wantKey, tt.wantWorkDir)
			}
			if c.Node.Identity != tt.identity {
				t.Errorf("Resolve changed its receiver: identity %q", c.Node.Identity)
			}
		})
	}
}

func TestResolveRelativeHome(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	got := Default().Resolve("home")
	if want := filepath.Join(wd, "home", "identity.key"); got.Node.Identity != want {
		t.Errorf("Resolve(\"home\").Node.Identity = %q, want %q", got.Node.Identity, want)
	}
}
