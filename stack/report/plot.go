package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	xfont "golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// CJKFontPaths are where the plots look for a font with Chinese glyphs, in order: the one
// llmmon's relay image carries, then Noto CJK (Debian's and Ubuntu's fonts-noto-cjk, Fedora's),
// Droid Sans Fallback (fonts-droid-fallback), macOS's and Windows' usual CJK fonts. gonum/plot's
// own fonts (Liberation) have no CJK glyphs. WenQuanYi's fonts are not listed: Go's font
// parser refuses their tables, which do not start on four-byte boundaries.
var CJKFontPaths = []string{
	"/usr/share/fonts/llmmon/cjk.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	"/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
	"/System/Library/Fonts/STHeiti Light.ttc",
	"/System/Library/Fonts/Hiragino Sans GB.ttc",
	`C:\Windows\Fonts\msyh.ttc`,
}

// FontEnv names a CJK font file that overrides CJKFontPaths.
const FontEnv = "LLMMON_REPORT_FONT"

var (
	cjkOnce sync.Once
	cjkFont *opentype.Font
	cjkPath string
	cjkErr  error
)

// FindCJKFont returns the CJK font the plots use: the file in $LLMMON_REPORT_FONT, else the
// first of CJKFontPaths that Go can read and that has Chinese glyphs; and an error saying what
// to install when there is none.
func FindCJKFont() (string, error) {
	cjkOnce.Do(func() {
		paths := CJKFontPaths
		if p := os.Getenv(FontEnv); p != "" {
			paths = []string{p}
		}
		var tried []string
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			f, err := parseCJK(b)
			if err != nil {
				tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
				continue
			}
			cjkFont, cjkPath = f, p
			return
		}
		cjkErr = errors.New("no CJK font found: install fonts-noto-cjk or fonts-droid-fallback, or set " + FontEnv + " to a .ttf/.otf/.ttc file")
		if len(tried) > 0 {
			cjkErr = fmt.Errorf("%w; unusable: %s", cjkErr, strings.Join(tried, ", "))
		}
	})
	return cjkPath, cjkErr
}

// parseCJK reads a font or a collection (preferring its Simplified Chinese member) and checks
// that it has the glyphs of "周报".
func parseCJK(b []byte) (*opentype.Font, error) {
	c, err := opentype.ParseCollection(b)
	if err != nil {
		return nil, err
	}
	var buf sfnt.Buffer
	var f *opentype.Font
	for i := 0; i < c.NumFonts(); i++ {
		fi, err := c.Font(i)
		if err != nil {
			return nil, err
		}
		if f == nil {
			f = fi
		}
		if name, err := fi.Name(&buf, sfnt.NameIDFamily); err == nil && strings.HasSuffix(name, " SC") {
			f = fi
			break
		}
	}
	if f == nil {
		return nil, errors.New("no font in it")
	}
	for _, r := range "周报" {
		if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
			return nil, errors.New("no Chinese glyphs")
		}
	}
	return f, nil
}

const cjkTypeface = "llmmon-cjk"

var addCJK sync.Once

// loadCJK finds the CJK font and adds it to gonum/plot's font cache, once.
func loadCJK() error {
	if _, err := FindCJKFont(); err != nil {
		return err
	}
	addCJK.Do(func() {
		font.DefaultCache.Add(font.Collection{{Font: font.Font{Typeface: cjkTypeface, Variant: "Sans", Weight: xfont.WeightNormal}, Face: cjkFont}})
	})
	return nil
}

// Plots are the report's PNGs, by curve key, and the words they were written in.
type Plots struct {
	PNG map[string][]byte
	// Lang is the language of the plots' texts: the report's, or en when a zh report found no
	// CJK font (FontNote then says why).
	Lang     string
	FontNote string
}

// palette is Grafana's classic palette, so the plots match the dashboards.
var palette = []color.RGBA{
	{0x73, 0xbf, 0x69, 0xff}, {0xf2, 0xcc, 0x0c, 0xff}, {0x8a, 0xb8, 0xff, 0xff}, {0xff, 0x78, 0x0a, 0xff},
	{0xf2, 0x49, 0x5c, 0xff}, {0x57, 0x94, 0xf2, 0xff}, {0xb8, 0x77, 0xd9, 0xff}, {0x70, 0x5d, 0xa0, 0xff},
	{0x37, 0x87, 0x2d, 0xff}, {0xfa, 0xde, 0x2a, 0xff},
}

// Render draws the report's curves as PNGs, 900×300 px, times in loc. Texts are in lang when
// it is en, or when a CJK font is found for zh.
func (r *Report) Render(lang string, loc *time.Location) (*Plots, error) {
	if loc == nil {
		loc = time.UTC
	}
	out := &Plots{PNG: map[string][]byte{}, Lang: lang}
	typeface := font.Typeface("Liberation")
	if _, ok := words[lang]; !ok || lang == "en" {
		out.Lang = "en"
	} else if err := loadCJK(); err != nil {
		out.Lang, out.FontNote = "en", "plots in English: "+err.Error()
	} else {
		typeface = cjkTypeface
	}
	w := words[out.Lang]
	dayFmt := "Mon 01-02"
	if r.Period > 10*24*time.Hour || out.Lang != "en" {
		dayFmt = "01-02"
	}
	for _, c := range r.Curves {
		p := plot.New()
		// The legend stands to the right of the plot, so that it never hides a line.
		legend := plot.NewLegend()
		legend.Top = true
		for _, t := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
			&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &legend.TextStyle.Font} {
			t.Typeface, t.Variant = typeface, "Sans"
		}
		p.Title.Text = w["plot."+c.Key] + " — " + w["plot.dashed"]
		p.Title.TextStyle.Font.Size = vg.Points(11)
		p.Y.Label.Text = w["unit."+c.Key]
		p.X.Tick.Marker = plot.TimeTicks{Format: dayFmt, Time: func(t float64) time.Time { return time.Unix(int64(t), 0).In(loc) }}
		p.X.Min, p.X.Max = float64(r.Start.Unix()), float64(r.End.Unix())
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		legend.TextStyle.Font.Size = vg.Points(8)
		colors := map[string]color.Color{}
		for _, l := range c.Lines {
			col, ok := colors[l.Name]
			if !ok {
				col = palette[len(colors)%len(palette)]
				colors[l.Name] = col
			}
			step := curveStep(r.Period)
			for i, seg := range segments(l.Points, step) {
				xy := make(plotter.XYs, len(seg))
				for j, pt := range seg {
					xy[j].X, xy[j].Y = float64(pt.T.Unix()), pt.V
					p.Y.Max = max(p.Y.Max, pt.V)
				}
				ln, err := plotter.NewLine(xy)
				if err != nil {
					return nil, fmt.Errorf("plot %s: %w", c.Key, err)
				}
				ln.Color, ln.Width = col, vg.Points(1.5)
				if l.Before {
					ln.Width = vg.Points(1)
					ln.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				}
				p.Add(ln)
				if i == 0 && !l.Before {
					legend.Add(l.Name, ln)
				}
			}
		}
		if p.Y.Max == 0 {
			p.Y.Max = 1
		}
		p.Y.Max *= 1.1
		img := vgimg.NewWith(vgimg.UseWH(9*vg.Inch, 3*vg.Inch), vgimg.UseDPI(100))
		dc := draw.New(img)
		r := legend.Rectangle(dc)
		legend.YOffs = -p.Title.TextStyle.FontExtents().Height - vg.Points(6)
		legend.XOffs = -vg.Points(4)
		p.Title.Padding = vg.Points(6)
		legend.Draw(dc)
		p.Draw(draw.Crop(dc, 0, -(r.Max.X-r.Min.X)-vg.Points(8), 0, 0))
		var buf bytes.Buffer
		if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
			return nil, fmt.Errorf("write plot %s: %w", c.Key, err)
		}
		out.PNG[c.Key] = buf.Bytes()
	}
	return out, nil
}

// segments splits points where a gap is longer than two steps, so a missing stretch is not
// drawn as a straight line.
func segments(pts []Point, step time.Duration) [][]Point {
	var out [][]Point
	startAt := 0
	for i := 1; i <= len(pts); i++ {
		if i == len(pts) || pts[i].T.Sub(pts[i-1].T) > 2*step {
			out = append(out, pts[startAt:i])
			startAt = i
		}
	}
	return out
}

// WritePlots writes the PNGs into dir as KEY.png and returns their file names in report order.
func (p *Plots) WritePlots(dir string) ([]string, error) {
	var names []string
	for _, k := range CurveKeys() {
		b, ok := p.PNG[k]
		if !ok {
			continue
		}
		name := k + ".png"
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("write the plots: %w", err)
		}
		names = append(names, name)
	}
	return names, nil
}
