package tray

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"testing"
)

func TestIconsDiffer(t *testing.T) {
	seen := map[string]Icon{}
	for i := IconOffline; i <= IconPaused; i++ {
		b := PNG(i)
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: PNG does not decode: %v", i, err)
		}
		if got := img.Bounds().Dx(); got != iconSize || img.Bounds().Dy() != iconSize {
			t.Errorf("%s: %v, want %dx%d", i, img.Bounds(), iconSize, iconSize)
		}
		if other, ok := seen[string(b)]; ok {
			t.Errorf("%s looks exactly like %s", i, other)
		}
		seen[string(b)] = i
		// Corners are transparent (round icons), the centre region is not.
		if _, _, _, a := img.At(0, 0).RGBA(); a != 0 {
			t.Errorf("%s: corner alpha %d, want 0", i, a)
		}
	}
}

func TestIconColours(t *testing.T) {
	// A point on the disc or ring, away from any glyph: the state's colour.
	tests := []struct {
		icon Icon
		want [3]uint8
	}{
		{IconOwner, [3]uint8{colorOwner.R, colorOwner.G, colorOwner.B}},
		{IconIdle, [3]uint8{colorLending.R, colorLending.G, colorLending.B}},
		{IconDonating, [3]uint8{colorLending.R, colorLending.G, colorLending.B}},
		{IconPaused, [3]uint8{colorPaused.R, colorPaused.G, colorPaused.B}},
		{IconOffline, [3]uint8{colorOffline.R, colorOffline.G, colorOffline.B}},
	}
	for _, tt := range tests {
		img := Draw(tt.icon, 64)
		c := img.NRGBAAt(32, 5) // top of the circle, inside its edge
		if got := [3]uint8{c.R, c.G, c.B}; got != tt.want || c.A != 255 {
			t.Errorf("%s: pixel %v, want %v opaque", tt.icon, c, tt.want)
		}
	}
}

func TestICO(t *testing.T) {
	b := ICO(IconPaused)
	le := binary.LittleEndian
	if le.Uint16(b[0:]) != 0 || le.Uint16(b[2:]) != 1 || int(le.Uint16(b[4:])) != len(icoSizes) {
		t.Fatalf("ICONDIR % x: want reserved 0, type 1, %d images", b[:6], len(icoSizes))
	}
	for k, size := range icoSizes {
		e := b[6+16*k:]
		w, h, bpp := int(e[0]), int(e[1]), le.Uint16(e[6:])
		n, off := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if w != size || h != size || bpp != 32 || off+n > len(b) {
			t.Fatalf("entry %d: %dx%d %d bpp at %d+%d of %d bytes", k, w, h, bpp, off, n, len(b))
		}
		dib := b[off : off+n]
		maskStride := (size + 31) / 32 * 4
		if hdr := le.Uint32(dib); hdr != 40 || int(le.Uint32(dib[4:])) != size || int(le.Uint32(dib[8:])) != 2*size ||
			n != 40+size*size*4+maskStride*size {
			t.Errorf("entry %d: header %d, %dx%d, %d bytes", k, hdr, le.Uint32(dib[4:]), le.Uint32(dib[8:]), n)
		}
		// The first row stored is the bottom one: its middle pixel is the
		// disc's amber, as BGRA.
		img := Draw(IconPaused, size)
		want := img.NRGBAAt(size/2, size-2)
		px := dib[40+((1)*size+size/2)*4:]
		if px[0] != want.B || px[1] != want.G || px[2] != want.R || px[3] != want.A {
			t.Errorf("entry %d: pixel % x, want BGRA of %v", k, px[:4], want)
		}
	}
}
