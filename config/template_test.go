package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// leafKeys lists the dotted key of every non-table field of t, in order.
func leafKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		key := tomlName(f)
		if prefix != "" {
			key = prefix + "." + key
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, leafKeys(f.Type, key)...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// custom returns a valid Config in which every field differs from Default,
// with strings that need escaping, so a round trip tests every key.
func custom() Config {
	c := Config{
		Version: Version,
		Name:    `lab "7" \ ünïcode`,
		Node: Node{
			Listen:     []string{"/ip4/127.0.0.1/tcp/0", "/ip6/::1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"},
			Bootstrap:  []string{"/ip4/10.0.0.2/tcp/4001/p2p/" + testPeerID},
			Identity:   "/etc/scavenge/id.key",
			SwarmKey:   "",
			Public:     true,
			MDNS:       false,
			DHTMode:    "client",
			OfferEvery: Duration(1500 * time.Millisecond),
			OfferTTL:   Duration(time.Hour + time.Second),
		},
		Donor: Donor{
			Enabled:    false,
			CPUs:       3,
			Memory:     1536 * MiB,
			Labels:     []string{"gpu", "tab\there", "new\nline", "quote\"d", "del\x7f", "bell\a", "日本"},
			AcceptFrom: []string{testPeerID},
			GuestUser:  "scavenge-guest",
			WorkDir:    "work dir",
			Lease:      Duration(2 * time.Second),
			MaxInput:   1000,
			MaxOutput:  Size(3e9),
			CRIU:       "/usr/local/sbin/criu", CheckpointEvery: Duration(15 * time.Minute),
		},
		Policy: Policy{
			Dedicated:    true,
			IdleAfter:    Duration(15 * time.Minute),
			OwnerCPUMax:  1.0 / 3,
			OwnerCPUFor:  0,
			DonateDuring: []string{"mon-fri 18:00-08:00", "Sat - Sun", "22:00-06:00"},
			SampleEvery:  Duration(250 * time.Millisecond),
			OnOwnerReturn: OnOwnerReturn{
				Action:      ActionMigrate,
				Grace:       0,
				ShareCPU:    0.25,
				ShareMemory: 512 * MiB,
				ResumeAfter: Duration(90 * time.Second),
				MaxSuspend:  0,
				Fallback:    ActionShare,
			},
		},
		Home: Home{
			AllowLocal:  true,
			WaitTimeout: 0,
			Retries:     7,
		},
		Log:       Log{Level: "debug", Format: "json"},
		Dashboard: Dashboard{Listen: "127.0.0.1:9470", AllowRemote: true},
	}
	return c
}

func TestCustomDiffersFromDefaultEverywhere(t *testing.T) {
	c, d := custom(), Default()
	for _, k := range leafKeys(reflect.TypeFor[Config](), "") {
		if k == "version" {
			continue // there is only one
		}
		if reflect.DeepEqual(valueAt(c, k).Interface(), valueAt(d, k).Interface()) {
			t.Errorf("custom() leaves %s at its default, so the round trip would not test it", k)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("custom() is not valid: %v", err)
	}
}

func TestTemplateRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		c    Config
	}{
		{"default", Default()},
		{"custom", custom()},
		{"long bootstrap list", func() Config {
			c := Default()
			for i := range 3 {
				c.Node.Bootstrap = append(c.Node.Bootstrap, fmt.Sprintf("/ip4/10.0.0.%d/tcp/4001/p2p/%s", i+1, testPeerID))
			}
			return c
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(path, Template(tt.c), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatalf("Load(Template(c)): %v\n%s", err, Template(tt.c))
			}
			if !reflect.DeepEqual(got, tt.c) {
				t.Errorf("Load(Template(c)) =\n%+v\nwant\n%+v", got, tt.c)
			}

			got, err = Parse("effective", []byte(Format(tt.c)))
			if err != nil {
				t.Fatalf("Parse(Format(c)): %v\n%s", err, Format(tt.c))
			}
			if !reflect.DeepEqual(got, tt.c) {
				t.Errorf("Parse(Format(c)) =\n%+v\nwant\n%+v", got, tt.c)
			}
		})
	}
}

// TestTemplateCoversSchema makes sure `scavenge init` writes every key of
// the schema, each under its own comment that states the default.
func TestTemplateCoversSchema(t *testing.T) {
	want := leafKeys(reflect.TypeFor[Config](), "")
	var documented []string
	for _, s := range docs {
		for _, d := range s.keys {
			documented = append(documented, join(s.table, d.key))
		}
	}
	if !slices.Equal(documented, want) {
		t.Errorf("docs keys =\n%q\nwant the schema's, in its order:\n%q", documented, want)
	}

	text := Template(Default())
	var m map[string]any
	md, err := toml.Decode(string(text), &m)
	if err != nil {
		t.Fatalf("template is not TOML: %v", err)
	}
	for _, k := range want {
		if !md.IsDefined(strings.Split(k, ".")...) {
			t.Errorf("template lacks %s", k)
		}
	}

	// Each key line follows a comment; each comment block but version's
	// states the default.
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		name, _, ok := strings.Cut(l, " = ")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		j := i
		for j > 0 && strings.HasPrefix(lines[j-1], "# ") {
			j--
		}
		block := strings.Join(lines[j:i], "\n")
		switch {
		case j == i:
			t.Errorf("line %d %q has no comment above it", i+1, l)
		case name != "version" && !strings.Contains(block, "Default: "):
			t.Errorf("comment of %s does not state its default:\n%s", name, block)
		}
		for _, c := range lines[j:i] {
			if len(c) > maxCommentLen+2 {
				t.Errorf("comment line of %s is %d characters long: %q", name, len(c), c)
			}
		}
	}
}

func TestTemplateShowsDefaults(t *testing.T) {
	text := string(Template(custom()))
	// The values are custom's, the stated defaults Default's.
	for _, want := range []string{
		"lease = \"2s\"\n",
		"Default: \"30s\".",
		"action = \"migrate\"\n",
		"Default: \"kill\".",
		"memory = \"1536MiB\"\n",
		"max_output = \"3000000000B\"\n",
		"Default: \"4GiB\".",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Template(custom()) lacks %q", want)
		}
	}
}
