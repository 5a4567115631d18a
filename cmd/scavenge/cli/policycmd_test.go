package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scavenge/scavenge/config"
	"github.com/scavenge/scavenge/policy"
)

func TestPolicyCheck(t *testing.T) {
	// Monday 09:30: outside "mon-fri 18:00-08:00" and "sat-sun".
	monday := time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	old := policyNow
	policyNow = func() time.Time { return monday }
	t.Cleanup(func() { policyNow = old })

	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	nights := write("nights.toml", `version = 1
[donor]
cpus = 2
memory = "4GiB"
[policy]
donate_during = ["mon-fri 18:00-08:00", "sat-sun"]
[policy.on_owner_return]
action = "suspend"
`)
	dedicated := write("dedicated.toml", "version = 1\n[donor]\nenabled = false\n[policy]\ndedicated = true\n")
	bad := write("bad.toml", `version = 1
[policy]
donate_during = ["sat-sun", "mon-fri 18-08"]
[policy.on_owner_return]
action = "freeze"
fallback = "migrate"
`)
	homeDir := filepath.Join(dir, "home")
	os.Mkdir(homeDir, 0o700)
	write("home/scavenge.toml", "version = 1\n")

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // in stdout
		wantErr  []string // in stderr
	}{
		{"nights and weekends", []string{"policy", "check", nights}, 0, []string{
			nights + " is valid",
			"Donates when nobody has touched the keyboard or mouse for 10m and the owner's CPU load (guests excluded) is below 25%, during mon-fri 18:00-08:00 and sat-sun all day.",
			"guests are suspended; they continue after the owner has been away 5m again; after 30m suspended they are stopped (SIGTERM, then SIGKILL 10s later)",
			"Lends at most 2 cores and 4GiB of memory.",
			"every 1s.",
			"Right now (Mon 09:30 CET) is outside the donation hours.",
		}, nil},
		{"dedicated and off", []string{"policy", "check", dedicated}, 0, []string{
			"Dedicated: donates whenever it is not paused, at any time;",
			"Donating is turned off (donor.enabled = false)",
		}, nil},
		{"errors name file, line and key", []string{"policy", "check", bad}, 1, nil, []string{
			bad + " is not valid:",
			bad + `:3: policy.donate_during[1]: "mon-fri 18-08" is not a donation window`,
			bad + `:5: policy.on_owner_return.action: "freeze" is not one of`,
			bad + `:6: policy.on_owner_return.fallback: "migrate" is not one of "share" or "kill"`,
		}},
		{"home's file", []string{"policy", "check", "--home", homeDir}, 0, []string{
			filepath.Join(homeDir, "scavenge.toml") + " is valid",
			"guests are stopped",
			"Lends all cores and half of the memory.",
		}, nil},
		{"missing file", []string{"policy", "check", filepath.Join(dir, "nope.toml")}, 1, nil, []string{"nope.toml"}},
		{"no subcommand", []string{"policy"}, 2, nil, []string{"missing subcommand"}},
		{"unknown subcommand", []string{"policy", "explain"}, 2, nil, []string{`unknown subcommand "explain"`}},
		{"two files", []string{"policy", "check", nights, bad}, 2, nil, []string{"at most one config file"}},
		{"help", []string{"policy", "-h"}, 0, []string{"usage: scavenge policy check"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			// Line breaks are the wrapping's business.
			flat := strings.Join(strings.Fields(stdout), " ")
			for _, w := range tt.wantOut {
				if !strings.Contains(flat, strings.Join(strings.Fields(w), " ")) {
					t.Errorf("stdout lacks %q", w)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
		})
	}
}

// TestPolicyFromConfigDefaults keeps the two sets of defaults, the file's
// and the policy package's, the same.
func TestPolicyFromConfigDefaults(t *testing.T) {
	got, err := policyFromConfig(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if want := policy.DefaultPolicy(); !reflect.DeepEqual(got, want) {
		t.Errorf("policy of the default config =\n%+v\nwant policy.DefaultPolicy() =\n%+v", got, want)
	}
}

func TestPolicyFromConfig(t *testing.T) {
	cfg := config.Default()
	c := &cfg.Policy
	c.Dedicated = true
	c.IdleAfter = config.Duration(3 * time.Minute)
	c.OwnerCPUMax = 0.5
	c.OwnerCPUFor = 0
	c.DonateDuring = []string{"Mon - Fri 18:00-08:00", "weekends", "wed 12:00-13:30"}
	c.OnOwnerReturn = config.OnOwnerReturn{
		Action: "share", Grace: config.Duration(time.Second), ShareCPU: 0.2, ShareMemory: 512 * config.MiB,
		ResumeAfter: config.Duration(time.Minute), MaxSuspend: 0, Fallback: "share",
	}
	got, err := policyFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := policy.Policy{
		Dedicated: true, IdleAfter: 3 * time.Minute, OwnerCPUMax: 0.5,
		Windows: []policy.Window{
			{Days: [7]bool{false, true, true, true, true, true, false}, From: 18 * time.Hour, To: 8 * time.Hour},
			{Days: [7]bool{time.Saturday: true, time.Sunday: true}, From: 0, To: 24 * time.Hour},
			{Days: [7]bool{time.Wednesday: true}, From: 12 * time.Hour, To: 13*time.Hour + 30*time.Minute},
		},
		OnReturn: policy.OnReturn{
			Action: policy.ActionShare, Grace: time.Second, Share: policy.Limits{CPUs: 0.2, MemoryBytes: 512 << 20},
			ResumeAfter: time.Minute, Fallback: policy.ActionShare,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("policyFromConfig =\n%+v\nwant\n%+v", got, want)
	}
	// The policy writes windows the way the file does: what it says in a
	// reason can be pasted back into the file.
	for i, w := range got.Windows {
		back, err := config.ParseWindow(w.String())
		if err != nil || (policy.Window{Days: back.Days, From: back.From, To: back.To}) != w {
			t.Errorf("window %d: %q reads back as %+v, %v; want %+v", i, w.String(), back, err, w)
		}
	}
}

func TestPolicyFromConfigErrors(t *testing.T) {
	c := config.Default()
	c.Policy.DonateDuring = []string{"sat-sun", "soon"}
	c.Policy.OnOwnerReturn.Action = "nuke"
	c.Policy.OnOwnerReturn.Fallback = "suspend"
	_, err := policyFromConfig(c)
	for _, want := range []string{
		`policy.donate_during[1]: "soon" is not a donation window`,
		`policy.on_owner_return.action: "nuke" is not an action`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("policyFromConfig = %v, want an error with %q", err, want)
		}
	}
	c = config.Default()
	c.Policy.OnOwnerReturn.Fallback = "suspend"
	if _, err := policyFromConfig(c); err == nil || !strings.Contains(err.Error(), "Fallback") {
		t.Errorf("fallback suspend: %v, want an error about the fallback", err)
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("aaa bb  cccc\nd "+strings.Repeat("x", 12), 8)
	want := "aaa bb\ncccc d\n" + strings.Repeat("x", 12)
	if got != want {
		t.Errorf("wrapText = %q, want %q", got, want)
	}
}
