package tray

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// The icons are drawn here rather than shipped as files: five small
// shapes, no build step, and the same pixels on every OS. Colour says the
// state at a glance and the shape says it again for colour-blind eyes:
//
//	owner     blue disc with a person: you are using the machine, nothing lent
//	idle      green ring: lending, nobody's task is here yet
//	donating  green disc with a play triangle: other peers' tasks run here
//	paused    amber disc with two bars: you paused lending
//	offline   grey ring crossed out: no daemon answers

// Icon is what the tray icon shows.
type Icon int

// Icons, one per state of the machine as the tray sees it.
const (
	IconOffline Icon = iota
	IconOwner
	IconIdle
	IconDonating
	IconPaused
)

var iconNames = [...]string{"offline", "owner", "idle", "donating", "paused"}

func (i Icon) String() string {
	if i < 0 || int(i) >= len(iconNames) {
		return "unknown"
	}
	return iconNames[i]
}

// Palette of the icons (Material-ish tones that read on light and dark panels).
var (
	colorOwner    = color.NRGBA{0x1e, 0x88, 0xe5, 0xff} // blue
	colorLending  = color.NRGBA{0x2e, 0x7d, 0x32, 0xff} // green
	colorPaused   = color.NRGBA{0xf9, 0xa8, 0x25, 0xff} // amber
	colorOffline  = color.NRGBA{0x75, 0x75, 0x75, 0xff} // grey
	colorSlash    = color.NRGBA{0xd3, 0x2f, 0x2f, 0xff} // red
	colorGlyph    = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	iconSupersamp = 4 // samples per pixel side: smooth edges without a drawing library
)

// shape says whether the point (x, y), in units of the icon's size (0..1,
// y down), is inside a part of the icon, and that part's colour.
type shape func(x, y float64) (color.NRGBA, bool)

// Draw renders icon i at size×size pixels.
func Draw(i Icon, size int) *image.NRGBA {
	layers := iconLayers(i)
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	n := iconSupersamp
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < n; sy++ {
				for sx := 0; sx < n; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/float64(n)) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/float64(n)) / float64(size)
					c, ok := topmost(layers, x, y)
					if !ok {
						continue
					}
					// Premultiplied sums, so edges blend toward transparent.
					af := float64(c.A) / 255
					r += float64(c.R) * af
					g += float64(c.G) * af
					b += float64(c.B) * af
					a += af
				}
			}
			if a == 0 {
				continue
			}
			cover := a / float64(n*n)
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a)), G: uint8(math.Round(g / a)), B: uint8(math.Round(b / a)),
				A: uint8(math.Round(cover * 255)),
			})
		}
	}
	return img
}

// topmost is the colour of the last layer covering (x, y).
func topmost(layers []shape, x, y float64) (color.NRGBA, bool) {
	for i := len(layers) - 1; i >= 0; i-- {
		if c, ok := layers[i](x, y); ok {
			return c, true
		}
	}
	return color.NRGBA{}, false
}

func iconLayers(i Icon) []shape {
	switch i {
	case IconOwner:
		return []shape{disc(0.47, colorOwner), disc(0.14, colorGlyph).at(0.5, 0.36), shoulders(colorGlyph)}
	case IconIdle:
		return []shape{ring(0.47, 0.33, colorLending), disc(0.12, colorLending)}
	case IconDonating:
		return []shape{disc(0.47, colorLending), triangle(colorGlyph)}
	case IconPaused:
		return []shape{disc(0.47, colorPaused), rect(0.34, 0.28, 0.45, 0.72, colorGlyph), rect(0.55, 0.28, 0.66, 0.72, colorGlyph)}
	}
	return []shape{ring(0.47, 0.35, colorOffline), slash(0.07, colorSlash)}
}

// disc is a filled circle of radius r around the centre.
func disc(r float64, c color.NRGBA) shape {
	return func(x, y float64) (color.NRGBA, bool) {
		return c, math.Hypot(x-0.5, y-0.5) <= r
	}
}

// at moves a shape drawn around the centre to (cx, cy).
func (s shape) at(cx, cy float64) shape {
	return func(x, y float64) (color.NRGBA, bool) { return s(x-cx+0.5, y-cy+0.5) }
}

// ring is the band between radii inner and outer.
func ring(outer, inner float64, c color.NRGBA) shape {
	return func(x, y float64) (color.NRGBA, bool) {
		d := math.Hypot(x-0.5, y-0.5)
		return c, d <= outer && d >= inner
	}
}

// shoulders is the lower half of a person: an ellipse cut by the disc.
func shoulders(c color.NRGBA) shape {
	return func(x, y float64) (color.NRGBA, bool) {
		dx, dy := (x-0.5)/0.26, (y-0.78)/0.24
		return c, dx*dx+dy*dy <= 1 && y <= 0.76 && math.Hypot(x-0.5, y-0.5) <= 0.42
	}
}

// triangle is a "play" glyph pointing right.
func triangle(c color.NRGBA) shape {
	return func(x, y float64) (color.NRGBA, bool) {
		// Vertices (0.38,0.27), (0.38,0.73), (0.74,0.5).
		if x < 0.38 || x > 0.74 {
			return c, false
		}
		half := 0.23 * (0.74 - x) / 0.36
		return c, math.Abs(y-0.5) <= half
	}
}

func rect(x0, y0, x1, y1 float64, c color.NRGBA) shape {
	return func(x, y float64) (color.NRGBA, bool) { return c, x >= x0 && x <= x1 && y >= y0 && y <= y1 }
}

// slash is a band of half-width w from the top left to the bottom right
// (a "no" sign), clipped to the icon's circle.
func slash(w float64, c color.NRGBA) shape {
	return func(x, y float64) (color.NRGBA, bool) {
		d := math.Abs((x-0.5)-(y-0.5)) / math.Sqrt2
		return c, d <= w && math.Hypot(x-0.5, y-0.5) <= 0.47
	}
}

// iconSize is the size of the PNG icons: tray hosts scale it to their panel.
const iconSize = 32

// PNG is icon i as a PNG file, for the Linux (StatusNotifierItem) and macOS trays.
func PNG(i Icon) []byte {
	var b bytes.Buffer
	// Encoding an in-memory image cannot fail.
	_ = png.Encode(&b, Draw(i, iconSize))
	return b.Bytes()
}
