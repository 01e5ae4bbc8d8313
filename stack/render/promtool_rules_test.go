package render_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack/render"
)

// The promtool unit tests of every alert live in rules/tests/*.yml. They run against the rule
// files rendered from testdata/specs/alerts.yaml (every engine, host and GPU on, default
// thresholds), written to DIR/prometheus/rules/*.yml; each test file is copied to
// DIR/prometheus/, so its rule_files (rules/records.yml, rules/llm.yml, ...) are relative to it.

// ruleTestFile is the part of a promtool test file that the Go tests look at.
type ruleTestFile struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	GroupEvalOrder     []string `yaml:"group_eval_order"`
	Tests              []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func ruleTestFiles(t *testing.T) map[string]ruleTestFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testenv.Root(), "rules", "tests", "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no promtool test files in rules/tests: %v", err)
	}
	out := map[string]ruleTestFile{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f ruleTestFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p] = f
	}
	return out
}

// keepSummaryOnly drops every annotation but summary from the rendered alert rules. promtool
// compares an alert's annotations as a whole, and the dashboard links (panel ids of dashboards/),
// descriptions and runbooks are checked by the golden files; the unit tests check the
// expressions, the labels and the summary, which carries the alert's value.
func keepSummaryOnly(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string           `yaml:"name"`
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if ann, ok := r["annotations"].(map[string]any); ok {
				for k := range ann {
					if k != "summary" {
						delete(ann, k)
					}
				}
			}
		}
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ruleGroups lists the group names of a rendered rule file.
func ruleGroups(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name string `yaml:"name"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var names []string
	for _, g := range f.Groups {
		names = append(names, g.Name)
	}
	return names
}

// TestPromtoolUnitTests runs `promtool test rules` on every rules/tests/*.yml: each alert fires
// on bad series with its labels and summary, stays silent on healthy and noisy-but-normal
// series, and resolves; LLM alerts are driven through each engine's raw metrics, so the
// recording rules are tested too.
func TestPromtoolUnitTests(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	dir := t.TempDir()
	if err := renderCase(t, "alerts").Write(dir); err != nil {
		t.Fatal(err)
	}
	promDir := filepath.Join(dir, "prometheus")
	for _, f := range []string{"records", "llm", "host", "gpu", "self"} {
		if _, err := os.Stat(filepath.Join(promDir, "rules", f+".yml")); err != nil {
			t.Fatalf("the alerts spec renders no rules/%s.yml: %v", f, err)
		}
	}
	rendered, _ := filepath.Glob(filepath.Join(promDir, "rules", "*.yml"))
	for _, p := range rendered {
		if filepath.Base(p) != "records.yml" {
			keepSummaryOnly(t, p)
		}
	}
	for path, f := range ruleTestFiles(t) {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".yml"), func(t *testing.T) {
			t.Parallel()
			if f.EvaluationInterval != "10s" {
				t.Errorf("%s: evaluation_interval %q, want 10s (the convention of these files; llmmon evaluates every 5s, and the for: durations decide)", name, f.EvaluationInterval)
			}
			// Prometheus orders groups it is not told about at random; every group must be
			// listed so that recording rules are evaluated before the rules that read them.
			listed := map[string]bool{}
			for _, g := range f.GroupEvalOrder {
				listed[g] = true
			}
			for _, rf := range f.RuleFiles {
				for _, g := range ruleGroups(t, filepath.Join(promDir, rf)) {
					if !listed[g] {
						t.Errorf("%s: group_eval_order does not list group %s of %s", name, g, rf)
					}
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(promDir, name)
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "test", "rules", dst).CombinedOutput()
			if err != nil {
				t.Errorf("promtool test rules rules/tests/%s: %v\n%s", name, err, out)
			}
		})
	}
}

// TestEveryAlertHasPromtoolTests: every alert of rules/alerts/*.yml has a promtool test case
// where it fires and one where it stays silent, so that a new alert cannot go untested.
func TestEveryAlertHasPromtoolTests(t *testing.T) {
	names, err := render.AlertNames(rules.FS)
	if err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]int{}, map[string]int{}
	for _, f := range ruleTestFiles(t) {
		for _, tg := range f.Tests {
			for _, c := range tg.AlertRuleTest {
				if len(c.ExpAlerts) > 0 {
					fires[c.Alertname]++
				} else {
					silent[c.Alertname]++
				}
			}
		}
	}
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
		if fires[n] == 0 {
			t.Errorf("alert %s has no promtool test case in rules/tests/*.yml where it fires", n)
		}
		if silent[n] == 0 {
			t.Errorf("alert %s has no promtool test case in rules/tests/*.yml where it stays silent", n)
		}
	}
	var unknown []string
	for n := range fires {
		if !known[n] {
			unknown = append(unknown, n)
		}
	}
	for n := range silent {
		if !known[n] && fires[n] == 0 {
			unknown = append(unknown, n)
		}
	}
	sort.Strings(unknown)
	for _, n := range unknown {
		t.Errorf("rules/tests/*.yml tests alert %s, which rules/alerts/*.yml does not define", n)
	}
}

// TestPromtoolOptionTests runs rules/tests/options/*.yml against the rules rendered from
// testdata/specs/options.yaml (working hours, anomaly alerts, SLOs), and rules/tests/weekly/*.yml
// against those of testdata/specs/weekly.yaml (anomalies against last week).
func TestPromtoolOptionTests(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	for _, c := range []struct {
		name string
		min  int
	}{{"options", 3}, {"weekly", 1}} {
		dir := t.TempDir()
		if err := renderCase(t, c.name).Write(dir); err != nil {
			t.Fatal(err)
		}
		promDir := filepath.Join(dir, "prometheus")
		rendered, _ := filepath.Glob(filepath.Join(promDir, "rules", "*.yml"))
		for _, p := range rendered {
			if filepath.Base(p) != "records.yml" {
				keepSummaryOnly(t, p)
			}
		}
		tests, _ := filepath.Glob(filepath.Join(testenv.Root(), "rules", "tests", c.name, "*.yml"))
		if len(tests) < c.min {
			t.Fatalf("want at least %d tests in rules/tests/%s, found %v", c.min, c.name, tests)
		}
		for _, p := range tests {
			data, _ := os.ReadFile(p)
			dst := filepath.Join(promDir, filepath.Base(p))
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "test", "rules", dst).CombinedOutput()
			if err != nil {
				t.Errorf("promtool test rules %s/%s: %v\n%s", c.name, filepath.Base(p), err, out)
			}
		}
	}
}
