package config

import "testing"

// BenchmarkParse measures loading the full template, the file every
// daemon start reads.
func BenchmarkParse(b *testing.B) {
	data := Template(Default())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("bench.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
