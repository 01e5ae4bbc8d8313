package report

import (
	"bytes"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
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

// CJKFontPaths are where the plots look for a font with Chinese glyphs, in order: the file
// named by $LLMMON_REPORT_FONT, the one llmmon's relay image carries, then Debian's/Ubuntu's,
// Fedora's, macOS's and Windows' usual CJK fonts. gonum/plot's own fonts (Liberation) have no
// CJK glyphs.
var CJKFontPaths = []string{
	"/usr/share/fonts/llmmon/cjk.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
	"/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
	"/System/Library/Fonts/STHeiti Light.ttc",
	`C:\Windows\Fonts\msyh.ttc`,
}

// FindCJKFont returns the first CJK font file that exists, or "".
func FindCJKFont() string {
	if p := os.Getenv("LLMMON_REPORT_FONT"); p != "" {
		return p
	}
	for _, p := range CJKFontPaths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

const cjkTypeface = "llmmon-cjk"

var (
	cjkOnce sync.Once
	cjkErr  error
	cjkPath string
)

// loadCJK parses the CJK font once and adds it to gonum/plot's font cache. A font collection
// (.ttc) gives its first font; the font must have the glyphs of "周报".
func loadCJK() (string, error) {
	cjkOnce.Do(func() {
		cjkPath = FindCJKFont()
		if cjkPath == "" {
			cjkErr = fmt.Errorf("no CJK font found (install fonts-wqy-microhei or fonts-noto-cjk, or set LLMMON_REPORT_FONT to a .ttf/.ttc file)")
			return
		}
		b, err := os.ReadFile(cjkPath)
		if err != nil {
			cjkErr = fmt.Errorf("read the CJK font: %w", err)
			return
		}
		var f *opentype.Font
		if c, err := opentype.ParseCollection(b); err == nil && c.NumFonts() > 0 {
			f, err = c.Font(0)
			if err != nil {
				cjkErr = fmt.Errorf("read the CJK font %s: %w", cjkPath, err)
				return
			}
		} else if f, err = opentype.Parse(b); err != nil {
			cjkErr = fmt.Errorf("read the CJK font %s: %w", cjkPath, err)
			return
		}
		var buf sfnt.Buffer
		for _, r := range "周报" {
			if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
				cjkErr = fmt.Errorf("the font %s has no Chinese glyphs", cjkPath)
				return
			}
		}
		font.DefaultCache.Add(font.Collection{{Font: font.Font{Typeface: cjkTypeface, Weight: xfont.WeightNormal}, Face: f}})
	})
	return cjkPath, cjkErr
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
	} else if _, err := loadCJK(); err != nil {
		out.Lang, out.FontNote = "en", "plots in English: "+err.Error()
	} else {
		typeface = cjkTypeface
	}
	w := words[out.Lang]
	dayFmt := "Mon 01-02"
	if r.Period > 10*24*time.Hour {
		dayFmt = "01-02"
	}
	for _, c := range r.Curves {
		p := plot.New()
		for _, t := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
			&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
			t.Typeface, t.Variant = typeface, "Sans"
		}
		p.Title.Text = w["plot."+c.Key] + " — " + w["plot.dashed"]
		p.Title.TextStyle.Font.Size = vg.Points(11)
		p.Y.Label.Text = w["unit."+c.Key]
		p.X.Tick.Marker = plot.TimeTicks{Format: dayFmt, Time: func(t float64) time.Time { return time.Unix(int64(t), 0).In(loc) }}
		p.X.Min, p.X.Max = float64(r.Start.Unix()), float64(r.End.Unix())
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		p.Legend.Top, p.Legend.Left = true, true
		p.Legend.TextStyle.Font.Size = vg.Points(8)
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
					p.Legend.Add(l.Name, ln)
				}
			}
		}
		if p.Y.Max == 0 {
			p.Y.Max = 1
		}
		p.Y.Max *= 1.1
		img := vgimg.NewWith(vgimg.UseWH(9*vg.Inch, 3*vg.Inch), vgimg.UseDPI(100))
		p.Draw(draw.New(img))
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
