package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary files to Load: it must never panic, every error
// must name the file, and whatever loads must be valid and survive a trip
// through Template.
func FuzzLoad(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new
	// coverage, and a full commented template (4 KB) takes it a minute.
	// The template's comments are covered by the round trip below.
	f.Add([]byte(Format(custom())))
	for _, s := range []string{
		"",
		"version = 1\n",
		"version = 2\n",
		"version = 1\n[donor]\nlease = \"3 parsecs\"\nmemory = \"4 gigs\"\ncpus = \"x\"\n",
		"version = 1\n[[donor]]\n[[donor]]\n",
		"version = 1\nfoo.bar.baz = 1\n[policy.on_owner_return]\naction = \"nuke\"\n",
		"version = 1\nnode = { listen = [1, \"/ip4/x\"], bootstrap = [[]] }\n",
		"version = 1\n[donor\n",
		"version = 1\nname = 1979-05-27T07:32:00Z\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, FileName)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			for _, p := range problems(err) {
				if !strings.HasPrefix(p, path+":") {
					t.Errorf("problem %q does not name the file", p)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Load succeeded but Validate fails: %v", err)
		}
		back, err := Parse(path, Template(c))
		if err != nil {
			t.Fatalf("Template of a loaded config does not load: %v\n%s", err, Template(c))
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("Template round trip changed the config:\n got %+v\nwant %+v", back, c)
		}
	})
}
