package config

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"
)

// Size is a number of bytes, written in the file as a string with a unit
// ("4GiB", "512MiB", "1.5GB", "0") or as a plain integer number of bytes.
// Binary units (KiB, MiB, GiB, TiB, PiB) are powers of 1024; decimal units
// (kB, MB, GB, TB, PB) are powers of 1000; units are case-insensitive.
type Size uint64

// sizeForms is the hint every size error ends with.
const sizeForms = `use e.g. "4GiB", "512MiB", "1.5GB" or a whole number of bytes`

// Common sizes, for code that builds a Config.
const (
	KiB Size = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

// sizeUnits maps a lower-cased unit to its multiplier.
var sizeUnits = map[string]uint64{
	"":    1,
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"pb":  1e15,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
	"pib": 1 << 50,
}

// binaryUnits are the units String uses, largest first.
var binaryUnits = []struct {
	name string
	size uint64
}{
	{"PiB", 1 << 50}, {"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
}

// String formats s with the largest binary unit that divides it exactly, so
// that parsing the result gives s back: "4GiB", "1536MiB", "0", "1000B".
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	for _, u := range binaryUnits {
		if uint64(s)%u.size == 0 {
			return strconv.FormatUint(uint64(s)/u.size, 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. A number may have a
// fraction ("1.5GiB") as long as the result is a whole number of bytes. The
// error names the value and the accepted forms.
func (s *Size) UnmarshalText(text []byte) error {
	v, err := parseSize(string(text))
	if err != nil {
		return fmt.Errorf("%s is not a size: %v (%s)", quoteShort(string(text)), err, sizeForms)
	}
	*s = Size(v)
	return nil
}

// parseSize parses "<number>[ ]<unit>". Exact rational arithmetic keeps
// "0.1GB" exactly 100000000 bytes instead of whatever float64 rounds it to.
func parseSize(text string) (uint64, error) {
	t := strings.TrimSpace(text)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i < 0 {
		i = len(t)
	}
	num, rawUnit := t[:i], strings.TrimLeftFunc(t[i:], unicode.IsSpace)
	unit := strings.ToLower(rawUnit)
	if num == "" {
		return 0, fmt.Errorf("no number")
	}
	if strings.Count(num, ".") > 1 || num == "." || len(num) > 40 {
		return 0, fmt.Errorf("bad number %q", num)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", rawUnit)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("bad number %q", num)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).SetUint64(mult)))
	if !r.IsInt() {
		return 0, fmt.Errorf("not a whole number of bytes")
	}
	n := r.Num()
	if !n.IsUint64() {
		return 0, fmt.Errorf("too large")
	}
	return n.Uint64(), nil
}
