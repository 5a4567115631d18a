// Package service holds the files that run scavenge as a Linux system
// service: the systemd unit of the daemon and the XDG autostart entry of
// the tray, rendered from templates embedded in the binary, and the
// systemd facts `scavenge install` needs. Writing them is the CLI's job
// (install.go); this package only says what they contain and where they go.
package service

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"text/template"
)

// Where the files go on the target system, and the defaults of install.
const (
	UnitName      = "scavenge.service"
	UnitPath      = "/etc/systemd/system/" + UnitName
	AutostartPath = "/etc/xdg/autostart/scavenge-tray.desktop"
	DefaultPrefix = "/usr/local"
	// DefaultHome is the daemon's home as a system service: its config,
	// identity, swarm key, job database and socket.
	DefaultHome = "/var/lib/scavenge"
)

var (
	//go:embed scavenge.service.tmpl
	unitText string
	//go:embed scavenge-tray.desktop.tmpl
	desktopText string

	unitTmpl    = template.Must(template.New("unit").Parse(unitText))
	desktopTmpl = template.Must(template.New("desktop").Parse(desktopText))
)

// Params are the paths the files name, as seen on the target system.
type Params struct {
	Binary string // the scavenge executable, e.g. /usr/local/bin/scavenge
	Home   string // the daemon's home directory
}

// File is one file to write: Path on the target system, its mode and content.
type File struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// Unit is the systemd unit of the daemon.
func Unit(p Params) (File, error) {
	if err := p.check(); err != nil {
		return File{}, err
	}
	exec := strings.Join([]string{SystemdQuote(p.Binary), "daemon", "--home", SystemdQuote(p.Home)}, " ")
	data, err := render(unitTmpl, map[string]string{"ExecStart": exec, "Home": p.Home})
	return File{Path: UnitPath, Mode: 0o644, Data: data}, err
}

// Autostart is the XDG autostart entry that starts the tray at every
// desktop login, for every user.
func Autostart(p Params) (File, error) {
	if err := p.check(); err != nil {
		return File{}, err
	}
	exec := strings.Join([]string{DesktopQuote(p.Binary), "tray", "--home", DesktopQuote(p.Home)}, " ")
	data, err := render(desktopTmpl, map[string]string{"TrayExec": exec})
	return File{Path: AutostartPath, Mode: 0o644, Data: data}, err
}

func render(t *template.Template, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("rendering %s: %w", t.Name(), err)
	}
	return b.Bytes(), nil
}

// check refuses paths a unit or desktop entry cannot hold.
func (p Params) check() error {
	var errs []error
	for _, f := range []struct{ name, v string }{{"binary", p.Binary}, {"home", p.Home}} {
		switch {
		case !path.IsAbs(f.v):
			errs = append(errs, fmt.Errorf("%s %q: want an absolute path", f.name, f.v))
		case strings.ContainsAny(f.v, "\n\r\x00"):
			errs = append(errs, fmt.Errorf("%s %q: a line break or NUL cannot go in a unit file", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// SystemdQuote writes one argument of a unit's Exec line: specifiers (%)
// and variables ($) are escaped, and an argument with spaces or quotes is
// double-quoted with C-style escapes.
func SystemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// DesktopQuote writes one argument of a desktop entry's Exec key: field
// codes (%) are escaped; an argument with a reserved character is
// double-quoted with `"`, "`", "$" and "\" backslash-escaped; then the
// string-value escape doubles every backslash (the spec applies it first
// when reading).
func DesktopQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`") {
		return s
	}
	q := `"` + strings.NewReplacer(`"`, `\"`, "`", "\\`", `$`, `\$`, `\`, `\\`).Replace(s) + `"`
	return strings.ReplaceAll(q, `\`, `\\`)
}

// Booted reports whether systemd runs this machine (sd_booted(3): the
// directory exists only when systemd is PID 1).
func Booted() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}
