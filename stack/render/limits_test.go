package render_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// TestScrapeLimits: every scrape job carries the five limits; the stack's limits apply to the
// stack's own jobs and to the engines' jobs; a target whose limits differ gets a job of its own
// that keeps the engine's job label (rules and dashboards match on it) and leaves the engine's
// file_sd file; a target whose "own" limits equal the stack's stays in its engine's job.
func TestScrapeLimits(t *testing.T) {
	p := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(p, []byte(`prometheus:
  limits: {samples: 1000, label_value_length: 512}
targets:
  - {name: plain, engine: vllm, url: "127.0.0.1:8000"}
  - {name: big, engine: vllm, url: "https://10.0.0.5:8443/stats", scrape_interval: 15s, labels: {team: x}, limits: {body_size: 1GB, labels: 30}}
  - {name: same, engine: sglang, url: "127.0.0.1:30000", limits: {samples: 1000, body_size: 16MiB}}
`), 0o644)
	s, _, err := spec.Load(p, env)
	if err != nil {
		t.Fatal(err)
	}
	b, err := render.Render(s, assets, render.Options{Credentials: fakeCredentials})
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global        map[string]any   `yaml:"global"`
		ScrapeConfigs []map[string]any `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b.Files["prometheus/prometheus.yml"].Data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Global["extra_scrape_metrics"] != true {
		t.Errorf("extra_scrape_metrics is not on (the limit alerts need scrape_sample_limit and scrape_body_size_bytes): %v", cfg.Global)
	}
	stack := map[string]any{"body_size_limit": "16MiB", "sample_limit": 1000, "label_limit": 64, "label_name_length_limit": 256, "label_value_length_limit": 512}
	jobs := map[string]map[string]any{}
	for _, j := range cfg.ScrapeConfigs {
		name := j["job_name"].(string)
		jobs[name] = j
		want := stack
		if name == "vllm-big" {
			want = map[string]any{"body_size_limit": "1GiB", "sample_limit": 1000, "label_limit": 30, "label_name_length_limit": 256, "label_value_length_limit": 512}
		}
		for k, v := range want {
			if j[k] != v {
				t.Errorf("job %s: %s = %v, want %v", name, k, j[k], v)
			}
		}
	}
	for _, name := range append([]string{"prometheus", "alertmanager", "node", "vllm-big"}, render.Jobs...) {
		if jobs[name] == nil {
			t.Errorf("no scrape job %s", name)
		}
	}
	if jobs["sglang-same"] != nil {
		t.Error("a target whose limits equal the stack's got a job of its own")
	}
	own, _ := yaml.Marshal(jobs["vllm-big"]["static_configs"])
	var sc []render.TargetGroup
	yaml.Unmarshal(own, &sc)
	if len(sc) != 1 || !slices.Equal(sc[0].Targets, []string{"10.0.0.5:8443"}) {
		t.Fatalf("vllm-big static_configs: %s", own)
	}
	for k, v := range map[string]string{"job": "vllm", "target": "big", "engine": "vllm", "team": "x", "__scheme__": "https", "__metrics_path__": "/stats", "__scrape_interval__": "15s", "__scrape_timeout__": "10s"} {
		if sc[0].Labels[k] != v {
			t.Errorf("vllm-big label %s = %q, want %q", k, sc[0].Labels[k], v)
		}
	}
	inFile := func(job string) []string {
		var gs []render.TargetGroup
		if err := json.Unmarshal(b.Files["prometheus/targets/"+job+".json"].Data, &gs); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range gs {
			names = append(names, g.Labels["target"])
		}
		return names
	}
	if got := inFile("vllm"); !slices.Equal(got, []string{"plain"}) {
		t.Errorf("vllm.json has %v, want [plain] (big has its own job)", got)
	}
	if got := inFile("sglang"); !slices.Equal(got, []string{"same"}) {
		t.Errorf("sglang.json has %v, want [same]", got)
	}
}
