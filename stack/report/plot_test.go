package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// synthetic is a week of hourly points for three services, with a gap in one.
func synthetic() *Report {
	end := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	r := &Report{Start: end.Add(-7 * 24 * time.Hour), End: end, Period: 7 * 24 * time.Hour}
	for _, key := range CurveKeys() {
		c := Curve{Key: key}
		for s, name := range []string{"qwen-chat", "embed", "legacy-api"} {
			for _, before := range []bool{false, true} {
				l := Line{Name: name, Before: before}
				for h := 1; h <= 168; h++ {
					if name == "embed" && !before && h > 60 && h < 70 {
						continue // down for a while: no points
					}
					v := float64(10*(s+1)) * (1 + 0.5*math.Sin(float64(h)/24*2*math.Pi))
					if before {
						v *= 0.8
					}
					l.Points = append(l.Points, Point{T: r.Start.Add(time.Duration(h) * time.Hour), V: v})
				}
				c.Lines = append(c.Lines, l)
			}
		}
		r.Curves = append(r.Curves, c)
	}
	return r
}

func TestRender(t *testing.T) {
	r := synthetic()
	for _, lang := range []string{"en", "zh"} {
		p, err := r.Render(lang, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.PNG) != len(CurveKeys()) {
			t.Fatalf("%s: %d plots, want %d", lang, len(p.PNG), len(CurveKeys()))
		}
		if lang == "zh" && p.Lang != "zh" {
			t.Logf("zh plots fell back to English: %s", p.FontNote)
		}
		for k, b := range p.PNG {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if sz := img.Bounds().Size(); sz.X != 900 || sz.Y != 300 {
				t.Errorf("%s: %v", k, sz)
			}
		}
		// Deterministic: the same report draws the same bytes.
		again, _ := r.Render(lang, time.UTC)
		for k := range p.PNG {
			if !bytes.Equal(p.PNG[k], again.PNG[k]) {
				t.Errorf("%s %s: two renderings differ", lang, k)
			}
		}
		if dir := os.Getenv("LLMMON_REPORT_OUT"); dir != "" {
			d := filepath.Join(dir, "synthetic-"+lang)
			os.MkdirAll(d, 0o755)
			p.WritePlots(d)
			page, _ := r.HTML(lang, time.UTC, HTMLOptions{Plots: p})
			os.WriteFile(filepath.Join(d, "report.html"), page, 0o644)
		}
	}
}

func TestHTMLEscapesAndEmbeds(t *testing.T) {
	r := synthetic()
	r.Services = []Service{{Target: "<script>x</script>", Requests: Figure{Value: 1200, Has: true}}}
	p, err := r.Render("en", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	page, err := r.HTML("en", time.UTC, HTMLOptions{Plots: p, Link: "http://g:3000/d/llmmon-overview/?from=1&to=2", LinkText: "overview"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	if strings.Contains(s, "<script>x") || !strings.Contains(s, "&lt;script&gt;x") {
		t.Error("a service name is not escaped")
	}
	if n := strings.Count(s, `src="data:image/png;base64,`); n != len(CurveKeys()) {
		t.Errorf("%d embedded plots, want %d", n, len(CurveKeys()))
	}
	if !strings.Contains(s, `href="http://g:3000/d/llmmon-overview/?from=1&amp;to=2"`) {
		t.Error("no link to the overview")
	}
	mail, _ := r.HTML("en", time.UTC, HTMLOptions{Plots: p, ImageSrc: MailImageSrc})
	if !strings.Contains(string(mail), `src="cid:requests.png"`) {
		t.Error("the mailed page does not refer to its inline images")
	}
}

func TestSummaryFits(t *testing.T) {
	r := synthetic()
	for i := 0; i < 60; i++ {
		r.Services = append(r.Services, Service{Target: strings.Repeat("s", 30) + string(rune('a'+i%26)),
			Availability: Figure{Value: 0.999, Prev: 0.998, Has: true, HasPrev: true}, P95: Figure{Value: 1.2, Has: true}})
	}
	s := r.Summary("zh", time.UTC, "http://g/d/llmmon-overview/", 2000)
	if len(s) > 2000 || !strings.Contains(s, "另有") || !strings.Contains(s, "http://g/d/llmmon-overview/") {
		t.Errorf("summary of %d bytes:\n%s", len(s), s)
	}
}
