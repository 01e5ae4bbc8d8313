// Package releases proves the dashboards and records on real servers of several releases of every
// engine: the real Prometheus (the binary test/images/build.sh builds from its Go module) scrapes
// each recorded exposition in test/testdata/releases (and the tutorial apps of test/testdata/apps,
// one with a targets[].metrics mapping), replayed with growing counters, with the
// rules llmmon generates; then every panel query, dashboard variable and llmmon:* record of each
// target is evaluated with `llmmon doctor`'s own checks. What has no data must be explained by
// metrics that release does not expose (never by a query that is wrong), and the whole verdict
// is kept in coverage.golden, which the README's per-engine table is made from.
package releases

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
	"github.com/llmmon/llmmon/test/modelsim/replay"
)

var update = flag.Bool("update", false, "rewrite coverage.golden")

// engineOf maps a release file to its engine by its name.
func engineOf(file string) string {
	base := filepath.Base(file)
	for _, e := range []string{"vllm", "sglang", "tgi", "llamacpp", "triton", "lmdeploy"} {
		if strings.HasPrefix(base, e+"-") {
			return e
		}
	}
	return ""
}

type release struct {
	file, engine, name string
	exp                *replay.Exposition
	addr               string
	mapping            string // targets[].metrics of an app, as YAML
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

func startReleases(t *testing.T) []*release {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(testenv.Root(), "test", "testdata", "releases", "*", "*"))
	apps, _ := filepath.Glob(filepath.Join(testenv.Root(), "test", "testdata", "apps", "*.prom"))
	files = append(files, apps...)
	var out []*release
	for _, f := range files {
		if !strings.HasSuffix(f, ".prom") && !strings.HasSuffix(f, ".inventory.txt") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e, err := replay.Parse(filepath.Base(f), data)
		if err != nil {
			t.Fatal(err)
		}
		stem := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".prom"), ".inventory.txt")
		r := &release{file: filepath.Base(f), engine: engineOf(f), name: strings.Trim(nonName.ReplaceAllString(strings.ToLower(stem), "-"), "-"), exp: e}
		if filepath.Base(filepath.Dir(f)) == "apps" {
			// A tutorial app, with the mapping a user writes for it where it has one.
			r.engine = "custom"
			if m, err := os.ReadFile(strings.TrimSuffix(f, ".prom") + ".metrics.yaml"); err == nil {
				r.mapping = string(m)
			} else if p := detect.Propose(string(data)); p != nil && p.Standard != "" {
				// Metrics of a convention: the mapping detect writes for them without asking.
				m, err := yaml.Marshal(p.Metrics)
				if err != nil {
					t.Fatal(err)
				}
				r.mapping = string(m)
			}
		}
		if r.engine == "" {
			t.Fatalf("%s: no engine in its name", f)
		}
		r.addr = serve(t, e.Handler())
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// promQuerier queries the test's Prometheus.
type promQuerier struct{ base string }

func (p promQuerier) Query(ctx context.Context, expr string) ([]doctor.Sample, error) {
	return p.QueryAt(ctx, expr, time.Time{})
}

// QueryAt evaluates expr at t (now, if t is zero).
func (p promQuerier) QueryAt(ctx context.Context, expr string, t time.Time) ([]doctor.Sample, error) {
	u := p.base + "/api/v1/query?query=" + url.QueryEscape(expr)
	if !t.IsZero() {
		u += "&time=" + strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return doctor.ParseQueryResponse(body)
}

// serve serves h on a free port of 127.0.0.1 until the test ends and returns its address.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startPrometheus renders the bundle of a spec and runs the real Prometheus on it (its scrape
// configs, its rules) until the test ends.
func startPrometheus(t *testing.T, specText string) (promQuerier, *render.Bundle, *bytes.Buffer) {
	t.Helper()
	promBin := filepath.Join(testenv.BinDir(), "prometheus-3.15.0")
	if _, err := os.Stat(promBin); err != nil {
		testenv.SkipOrFail(t, "the Prometheus binary is not built; run `make test-images` first")
	}
	s, _, err := spec.LoadBytes("releases.yaml", []byte(specText), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	b, err := render.Render(s, render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS}, render.Options{Credentials: render.Credentials{APIPassword: "unused", APIPasswordHash: "unused", RelayToken: "unused"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	promDir := filepath.Join(dir, "prometheus")
	cfg, err := os.ReadFile(filepath.Join(promDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.ReplaceAll(cfg, []byte(render.PromConfigDir), []byte(promDir))
	if err := os.WriteFile(filepath.Join(promDir, "prometheus.yml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, promBin, "--config.file="+filepath.Join(promDir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	return promQuerier{base: "http://" + addr}, b, log
}

func TestReleaseCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Prometheus")
	}
	rels := startReleases(t)

	// The spec a user of these servers would write: one target per release.
	var sb strings.Builder
	// Every target has the default SLOs, so that their records are checked on every release.
	sb.WriteString("prometheus:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nslo: {}\ntargets:\n")
	for _, r := range rels {
		fmt.Fprintf(&sb, "  - name: %s\n    engine: %s\n    url: http://%s\n", r.name, r.engine, r.addr)
		if r.mapping != "" {
			sb.WriteString("    metrics:\n")
			for _, l := range strings.Split(strings.TrimSpace(r.mapping), "\n") {
				if !strings.HasPrefix(l, "#") {
					sb.WriteString("      " + l + "\n")
				}
			}
		}
	}
	ctx := context.Background()
	q, b, log := startPrometheus(t, sb.String())

	// Every release is scraped, and its counters have moved between scrapes.
	deadline := time.Now().Add(90 * time.Second)
	for {
		up, err := q.Query(ctx, `count(up{engine!=""} == 1)`)
		if err == nil && len(up) == 1 && int(up[0].Value) == len(rels) {
			if rated, _ := q.Query(ctx, `count(count by (target) (llmmon:prompt_tokens:rate5m > 0 or llmmon:queue_length or llmmon:requests:rate5m > 0))`); len(rated) == 1 && rated[0].Value > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every release is scraped (up: %v, %v)\n%s", up, err, log)
		}
		time.Sleep(time.Second)
	}
	time.Sleep(4 * time.Second) // a few more scrapes and evaluations: every rate has two samples
	// The error budget is evaluated once a minute (its window is the SLO's whole period).
	for deadline := time.Now().Add(75 * time.Second); ; time.Sleep(time.Second) {
		if b, err := q.Query(ctx, `count(llmmon:slo_error_budget_remaining:ratio)`); err == nil && len(b) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no error budget evaluated in 75 s\n%s", log)
		}
	}

	assets := doctor.Assets{Records: b.Files["prometheus/rules/records.yml"].Data, Dashboards: map[string][]byte{}}
	for p, f := range b.Under("grafana/dashboards/llmmon/") {
		assets.Dashboards[filepath.Base(p)] = f.Data
	}
	var report strings.Builder
	report.WriteString("# Generated by test/releases (go test ./test/releases -update): for each recorded release,\n" +
		"# the checks of `llmmon doctor` (panel queries, dashboard variables, llmmon:* records) and the\n" +
		"# ones without data, with doctor's reason. The README's per-engine table is taken from this.\n")
	for _, r := range rels {
		checks, err := doctor.Checks(assets, doctor.Target{Name: r.name, Engine: r.engine})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := doctor.Diagnose(ctx, q, doctor.Target{Name: r.name, Engine: r.engine}, checks)
		if err != nil {
			t.Fatal(err)
		}
		kind, absent := "recorded", r.engine+" never exports"
		switch {
		case r.exp.Generated:
			kind = "inventory from source"
		case r.engine == "custom":
			kind, absent = "tutorial app, written here", "this app does not export"
		}
		fmt.Fprintf(&report, "\n%s (%s, %s): %d of %d checks have data, %d are signals %s\n", r.file, r.engine, kind, rep.Checks-rep.Blind-rep.Absent, rep.Checks, rep.Absent, absent)
		var lines []string
		for _, f := range rep.Findings {
			if f.Data {
				continue
			}
			if len(f.Missing) == 0 {
				t.Errorf("%s: %s has no data although the server exposes every metric it reads: a wrong query?\n  %s", r.file, f.Name(), f.Expr)
			}
			mark := "-"
			if f.NotExported {
				mark = "n/a"
			}
			lines = append(lines, fmt.Sprintf("  %s %s: %s\n", mark, f.Name(), f.Why))
		}
		sort.Strings(lines)
		lines = compact(lines)
		for _, l := range lines {
			report.WriteString(l)
		}
	}
	golden := filepath.Join(testenv.Root(), "test", "testdata", "releases", "coverage.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(report.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != report.String() {
		t.Errorf("coverage differs from %s (go test ./test/releases -update rewrites it):\n%s", golden, report.String())
	}
}

// compact drops repeated lines (a panel with several queries lacking the same metric).
func compact(xs []string) []string {
	var out []string
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	return out
}
