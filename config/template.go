package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// doc describes one key of the file for the commented template.
type doc struct {
	key  string // dotted key
	text string // what it does; lines separated by "\n"
	def  string // how to describe the default; "" means the Default() value, "-" none
}

// section is one [table] of the file ("" for the top level).
type section struct {
	table string
	text  string
	keys  []doc
}

// docs is the file in the order it is written. Every key of Config must be
// here: a test walks the schema to make sure, so a new field cannot be left
// out of `scavenge init`.
var docs = []section{
	{"", "", []doc{
		{"version", "Config format version. Required: this build reads version 1.", "-"},
		{"name", "Name this machine shows to peers (at most 64 characters).", "the host name"},
	}},
	{"node", "The libp2p peer: addresses, swarm membership and peer discovery.", []doc{
		{"listen", "Multiaddrs to listen on, e.g. \"/ip4/0.0.0.0/tcp/4001\".", ""},
		{"bootstrap", "Peers to join the swarm through: full multiaddrs ending in /p2p/<peer id>,\nas printed by `scavenge id` on those peers.", ""},
		{"identity", "This peer's private key file; relative to this file's folder.", ""},
		{"swarm_key", "Private swarm key file shared by all your machines; \"\" only with public = true.", ""},
		{"public", "true: no swarm key, anyone may connect (also enables QUIC).", ""},
		{"mdns", "Find peers on the local network by mDNS.", ""},
		{"dht_mode", "DHT mode: \"server\" (serve records; right on a LAN), \"client\" or \"auto\".", ""},
		{"offer_every", "How often this peer republishes its offer (a duration).", ""},
		{"offer_ttl", "How long an offer stays valid without a newer one; longer than offer_every.", ""},
	}},
	{"donor", "What this machine lends to other peers' jobs.", []doc{
		{"enabled", "Host guest tasks at all.", ""},
		{"cpus", "Cores to donate; 0 means all of them.", ""},
		{"memory", "Memory to donate, e.g. \"8GiB\"; \"0\" means half of RAM.", ""},
		{"labels", "Free-form tags that jobs can require, e.g. [\"gpu\", \"fast-disk\"].", ""},
		{"accept_from", "Peer IDs allowed to run tasks here; empty means any peer of the swarm.", ""},
		{"guest_user", "When the daemon runs as root, guests run as this unprivileged user.", ""},
		{"work_dir", "Folder for task directories; \"\" means a private folder under the system temp dir.", ""},
		{"lease", "A guest whose home stops renewing its lease is stopped after this (at least 2s).", ""},
		{"max_input", "Most input bytes one task may send here.", ""},
		{"max_output", "Most output file bytes one task may return.", ""},
		{"criu", "Path of the criu binary (4.x) for transparent checkpoints; \"\" looks for one\n(SCAVENGE_CRIU, /opt/scavenge-criu/criu, PATH). Needs a daemon run as root with\nCAP_SYS_RESOURCE (any ordinary root has it; `scavenge status` says if criu is usable).", ""},
		{"checkpoint_every", "Checkpoint running guests this often when their job asked for a backend but\nno interval, so a donor that dies costs at most that much work; \"0s\" = only\nwhen they must leave.", ""},
	}},
	{"policy", "When this machine donates.", []doc{
		{"dedicated", "A processor-pool machine with no owner: always counts as idle.", ""},
		{"idle_after", "No keyboard or mouse input for this long means the owner is away.", ""},
		{"owner_cpu_max", "Owner CPU load (fraction of all cores, 0 to 1, guests excluded) above which\nthe owner counts as active even without input.", ""},
		{"owner_cpu_for", "The CPU load must stay above owner_cpu_max this long to count, and below it\nas long to clear; \"0s\" counts every sample.", ""},
		{"donate_during", "When donating is allowed at all; empty means at any time. Each entry is days,\nhours or both: \"mon-fri 18:00-08:00\", \"sat-sun\", \"22:00-06:00\", \"mon,wed 12:00-13:30\".\nDays: mon ... sun, ranges, \"weekdays\", \"weekends\", \"daily\". Hours that cross\nmidnight count on each listed day as its early morning and its evening, so\n[\"mon-fri 18:00-08:00\", \"sat-sun\"] donates from Friday 18:00 to Monday 08:00.\nTimes are the machine's local time.", "[] (at any time)"},
		{"sample_every", "How often the presence sensors are read.", ""},
	}},
	{"policy.on_owner_return", "What guests get when the owner comes back, pauses donating (`scavenge pause`),\nor the donation hours end.", []doc{
		{"action", "\"share\" (keep running at the lowest priority, capped by share_cpu and\nshare_memory), \"suspend\" (freeze until the owner has been away resume_after),\n\"kill\" (stop; the home re-runs the task elsewhere) or \"migrate\" (checkpoint and\nmove; a guest that cannot be checkpointed gets the fallback).", ""},
		{"grace", "After asking a guest to stop (SIGTERM), kill it (SIGKILL) after this.", ""},
		{"share_cpu", "In share mode, each guest's CPU cap in cores (0.1 = a tenth of one core).", ""},
		{"share_memory", "In share mode, each guest's memory cap, e.g. \"512MiB\"; \"0\" means no cap.\nA guest above it is squeezed into swap or killed by the kernel.", ""},
		{"resume_after", "Shared or suspended guests get full speed again once the owner has been\naway (no input, CPU quiet) this long.", ""},
		{"max_suspend", "A guest suspended this long gets the fallback action; \"0s\" means no limit.", ""},
		{"fallback", "\"kill\" or \"share\": what a guest gets after max_suspend, and under \"migrate\"\nwhen it cannot be checkpointed.", ""},
	}},
	{"home", "This machine as a submitter of jobs.", []doc{
		{"allow_local", "Jobs submitted here may also run on this machine.", ""},
		{"wait_timeout", "How long `scavenge submit` waits for an idle peer unless told otherwise.", ""},
		{"retries", "How many times a preempted or lost task is re-run.", ""},
	}},
	{"log", "The daemon's log.", []doc{
		{"level", "\"debug\", \"info\", \"warn\" or \"error\".", ""},
		{"format", "\"text\" or \"json\".", ""},
	}},
	{"dashboard", "The dashboard page and Prometheus /metrics over HTTP (always on the local socket).", []doc{
		{"listen", "host:port to serve them on, e.g. \"127.0.0.1:9470\"; \"\" serves them only on the\nsocket. Every request needs the token in <home>/dashboard.token.", ""},
		{"allow_remote", "Allow a listen address other machines can reach (not loopback).", ""},
	}},
}

// maxCommentLen keeps the template's comment lines readable in a terminal.
const maxCommentLen = 86

// Template returns the file `scavenge init` writes: every key, each under a
// comment saying what it does and what its default is, with c's values.
// Load(Template(c)) gives c back.
func Template(c Config) []byte {
	def := Default()
	var b strings.Builder
	b.WriteString("# scavenge configuration. Check it with `scavenge config check`.\n")
	b.WriteString("# Relative paths are relative to the folder holding this file.\n")
	b.WriteString("# Durations are strings such as \"30s\", \"10m\", \"1h30m\"; sizes are strings\n")
	b.WriteString("# such as \"512MiB\", \"4GiB\" (powers of 1024) or \"4GB\" (powers of 1000).\n")
	for _, s := range docs {
		b.WriteString("\n")
		if s.table != "" {
			for _, l := range strings.Split(s.text, "\n") {
				fmt.Fprintf(&b, "# %s\n", l)
			}
			fmt.Fprintf(&b, "[%s]\n", s.table)
		}
		for i, d := range s.keys {
			if i > 0 {
				b.WriteString("\n")
			}
			full := join(s.table, d.key)
			lines := strings.Split(d.text, "\n")
			if d.def != "-" {
				dflt := d.def
				if dflt == "" {
					dflt = formatValue(valueAt(def, full))
				}
				// The default goes on its own line when it would make a long line.
				if tail := " Default: " + dflt + "."; len(lines[len(lines)-1])+len(tail) <= maxCommentLen {
					lines[len(lines)-1] += tail
				} else {
					lines = append(lines, tail[1:])
				}
			}
			for _, l := range lines {
				fmt.Fprintf(&b, "# %s\n", l)
			}
			fmt.Fprintf(&b, "%s = %s\n", d.key, formatValue(valueAt(c, full)))
		}
	}
	return []byte(b.String())
}

// Format returns c as plain TOML without comments, in the order of the
// template: what `scavenge config check` prints as the effective config.
// Parse(name, []byte(Format(c))) gives c back.
func Format(c Config) string {
	var b strings.Builder
	for i, s := range docs {
		if s.table != "" {
			if i > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(&b, "[%s]\n", s.table)
		}
		for _, d := range s.keys {
			fmt.Fprintf(&b, "%s = %s\n", d.key, formatValue(valueAt(c, join(s.table, d.key))))
		}
	}
	return b.String()
}

func join(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}

// valueAt returns the field of c at a dotted key. It panics on a key the
// schema lacks: docs is written by hand and the tests cover every entry.
func valueAt(c Config, key string) reflect.Value {
	v := reflect.ValueOf(c)
	for _, name := range strings.Split(key, ".") {
		f, ok := fieldByTag(v, name)
		if !ok {
			panic(fmt.Sprintf("config: docs names %q, which the schema does not have", key))
		}
		v = f
	}
	return v
}

// formatValue writes a field's value as a TOML literal.
func formatValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Duration:
		return quoteTOML(x.String())
	case Size:
		return quoteTOML(x.String())
	case string:
		return quoteTOML(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case float64:
		return formatFloat(x)
	case []string:
		return formatList(x)
	}
	panic(fmt.Sprintf("config: no formatter for %s", v.Type()))
}

// formatList writes a short list on one line and a long one an element a
// line, the way people lay out bootstrap addresses.
func formatList(xs []string) string {
	q := make([]string, len(xs))
	n := 0
	for i, s := range xs {
		q[i] = quoteTOML(s)
		n += len(q[i]) + 2
	}
	if len(xs) <= 1 && n < 70 || n < 50 {
		return "[" + strings.Join(q, ", ") + "]"
	}
	return "[\n  " + strings.Join(q, ",\n  ") + ",\n]"
}

// formatFloat writes f so that TOML reads it back as the same float.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// quoteTOML writes s as a TOML basic string. Go's %q is close but not the
// same: TOML has no \x or \a escapes and wants DEL escaped. A TOML file is
// UTF-8, so invalid bytes (which no loaded Config holds) become U+FFFD.
func quoteTOML(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
