package tray

import (
	"bytes"
	"encoding/binary"
	"image"
)

// icoSizes are the images an .ico holds: the notification area uses 16 at
// 100% scaling and 32 at 200%.
var icoSizes = []int{16, 32}

// ICO is icon i as a Windows .ico file. Each image is a 32-bit BGRA DIB, the
// format every Windows version loads (PNG inside .ico needs Vista's loader
// and is refused by some of its paths).
func ICO(i Icon) []byte {
	images := make([][]byte, len(icoSizes))
	for k, s := range icoSizes {
		images[k] = dib(Draw(i, s))
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	// ICONDIR: reserved, type 1 (icon), count.
	b.Write(le.AppendUint16(nil, 0))
	b.Write(le.AppendUint16(nil, 1))
	b.Write(le.AppendUint16(nil, uint16(len(images))))
	offset := 6 + 16*len(images)
	for k, s := range icoSizes {
		// ICONDIRENTRY: width, height (0 means 256), colours, reserved,
		// planes, bits per pixel, size, offset.
		b.WriteByte(byte(s))
		b.WriteByte(byte(s))
		b.WriteByte(0)
		b.WriteByte(0)
		b.Write(le.AppendUint16(nil, 1))
		b.Write(le.AppendUint16(nil, 32))
		b.Write(le.AppendUint32(nil, uint32(len(images[k]))))
		b.Write(le.AppendUint32(nil, uint32(offset)))
		offset += len(images[k])
	}
	for _, img := range images {
		b.Write(img)
	}
	return b.Bytes()
}

// dib is img as an icon image: a BITMAPINFOHEADER whose height counts the
// colour rows and the mask rows, the BGRA rows bottom-up, then an all-zero
// AND mask (the alpha channel does the masking).
func dib(img *image.NRGBA) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	maskStride := (w + 31) / 32 * 4 // 1 bit per pixel, rows padded to 4 bytes
	le := binary.LittleEndian
	out := make([]byte, 0, 40+w*h*4+maskStride*h)
	out = le.AppendUint32(out, 40)        // header size
	out = le.AppendUint32(out, uint32(w)) // width
	out = le.AppendUint32(out, uint32(2*h))
	out = le.AppendUint16(out, 1)  // planes
	out = le.AppendUint16(out, 32) // bits per pixel
	out = le.AppendUint32(out, 0)  // BI_RGB
	out = le.AppendUint32(out, uint32(w*h*4+maskStride*h))
	out = append(out, make([]byte, 16)...) // resolution and palette: unused
	for y := h - 1; y >= 0; y-- {
		for x := range w {
			c := img.NRGBAAt(x, y)
			out = append(out, c.B, c.G, c.R, c.A)
		}
	}
	return append(out, make([]byte, maskStride*h)...)
}
