package doctor

import (
	"context"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

func assets(t *testing.T) Assets {
	t.Helper()
	s, _, err := spec.LoadBytes("t.yaml", []byte("targets:\n  - {name: a, engine: sglang, url: 127.0.0.1:1}\n  - {name: app, engine: custom, url: 127.0.0.1:2}\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	b, err := render.Render(s, render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		render.Options{Credentials: render.Credentials{APIPassword: "x", APIPasswordHash: "x", RelayToken: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	a := Assets{Records: b.Files["prometheus/rules/records.yml"].Data, Dashboards: map[string][]byte{}}
	for p, f := range b.Under("grafana/dashboards/llmmon/") {
		a.Dashboards[path.Base(p)] = f.Data
	}
	return a
}

func TestChecks(t *testing.T) {
	cs, err := Checks(assets(t), Target{Name: "a", Engine: "sglang"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	boards := map[string]bool{}
	for _, c := range cs {
		kinds[c.Kind]++
		boards[c.Dashboard] = true
		if strings.Contains(c.Expr, "$") {
			t.Errorf("%s: a variable left in %s", c.Name(), c.Expr)
		}
		if strings.Contains(c.Expr, `job="vllm"`) {
			t.Errorf("%s: another engine's query", c.Name())
		}
		if c.Kind != "record" && !strings.Contains(c.Expr, `target="a"`) && !strings.Contains(c.Expr, `target=~"a"`) {
			t.Errorf("%s: not limited to the target: %s", c.Name(), c.Expr)
		}
	}
	if kinds["panel"] < 15 || kinds["record"] < 10 || kinds["variable"] < 1 || !boards["SGLang"] || !boards["LLM services overview"] {
		t.Errorf("checks: %v on %v", kinds, boards)
	}
}

// fakeProm answers the queries Diagnose sends from a fixed set of series.
type fakeProm struct {
	have map[string]int // metric -> series of the target
	data *regexp.Regexp // checks whose expression matches have data
}

func (f fakeProm) Query(_ context.Context, expr string) ([]Sample, error) {
	switch {
	case strings.HasPrefix(expr, "max(up"):
		return []Sample{{Value: 1}}, nil
	case strings.HasPrefix(expr, "count by (__name__)"):
		var out []Sample
		for n, c := range f.have {
			out = append(out, Sample{Labels: map[string]string{"__name__": n}, Value: float64(c)})
		}
		return out, nil
	case strings.HasPrefix(expr, "max(scrape_duration"):
		return []Sample{{Value: 4.5}}, nil
	case strings.HasPrefix(expr, "max(scrape_timeout"):
		return []Sample{{Value: 5}}, nil
	case strings.HasPrefix(expr, "sum(scrape_samples"):
		return []Sample{{Value: 20000}}, nil
	}
	if f.data.MatchString(expr) {
		return []Sample{{Value: 1}}, nil
	}
	return nil, nil
}

func TestDiagnose(t *testing.T) {
	a := assets(t)
	cs, _ := Checks(a, Target{Name: "a", Engine: "sglang"})
	p := fakeProm{have: map[string]int{"sglang:e2e_request_latency_seconds_bucket": 18000, "sglang:num_running_reqs": 1}, data: regexp.MustCompile(`e2e_request_latency|num_running_reqs|running_requests`)}
	r, err := Diagnose(context.Background(), p, Target{Name: "a", Engine: "sglang"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Blind == 0 || r.Blind == r.Checks {
		t.Fatalf("blind %d of %d", r.Blind, r.Checks)
	}
	var whys []string
	for _, f := range r.Findings {
		if !f.Data {
			whys = append(whys, f.Why)
		}
	}
	all := strings.Join(whys, "\n")
	for _, want := range []string{"this server exposes no `sglang:time_to_first_token_seconds_bucket`", "older SGLang releases have no abort counter", "no `llmmon:"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in\n%s", want, all)
		}
	}
	notes := strings.Join(r.Notes, "\n")
	if !strings.Contains(notes, "20000 series") || !strings.Contains(notes, "sglang:e2e_request_latency_seconds_bucket (18000)") || !strings.Contains(notes, "4.50s of the 5s timeout") {
		t.Errorf("notes: %s", notes)
	}

	// A custom app without a TTFT metric is told which mapping to add.
	cs, _ = Checks(a, Target{Name: "app", Engine: "custom"})
	r, err = Diagnose(context.Background(), fakeProm{have: map[string]int{"request_processing_seconds": 3}, data: regexp.MustCompile(`^$`)}, Target{Name: "app", Engine: "custom"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "map its metrics with `targets[].metrics`") {
		t.Errorf("custom notes: %v", r.Notes)
	}
}

func TestMetrics(t *testing.T) {
	got := Metrics(`sum(rate(a_total{x="1"}[5m])) or b or {__name__="c"} / llmmon:d`)
	if strings.Join(got, ",") != "a_total,b,c,llmmon:d" {
		t.Errorf("%v", got)
	}
}
