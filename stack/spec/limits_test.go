package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLimits: sizes are read the way Prometheus reads body_size_limit, a target's limits are
// completed from prometheus.limits and those from the defaults.
func TestLimits(t *testing.T) {
	for in, want := range map[string]int64{"64MB": 64 << 20, "64MiB": 64 << 20, "512KB": 512 << 10, "1GB": 1 << 30, "2048B": 2048, "1.5MB": 3 << 19} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "64", "64mb", "64 MB", "-1MB", "64kB"} {
		if n, err := ParseSize(in); err == nil && n > 0 {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
	if got := FormatSize(64 << 20); got != "64MiB" {
		t.Errorf("FormatSize = %q", got)
	}
	p := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(p, []byte(`prometheus:
  limits: {samples: 1000}
targets:
  - {name: a, url: "127.0.0.1:8000"}
  - {name: b, url: "127.0.0.1:8001", limits: {body_size: 1GB, label_value_length: 100}}
`), 0o644)
	s, _, err := Load(p, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.LimitsFor(s.Targets[0]), (Limits{BodySize: "16MB", Samples: 1000, Labels: 64, LabelNameLength: 256, LabelValueLength: 4096}); got != want {
		t.Errorf("target a: %+v, want %+v", got, want)
	}
	if got, want := s.LimitsFor(s.Targets[1]), (Limits{BodySize: "1GB", Samples: 1000, Labels: 64, LabelNameLength: 256, LabelValueLength: 100}); got != want {
		t.Errorf("target b: %+v, want %+v", got, want)
	}
	if got := (&Spec{}).LimitsFor(Target{}); got != DefaultLimits {
		t.Errorf("a spec built in code: %+v", got)
	}
}
