package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var noEnv = func(string) (string, bool) { return "", false }

// problemsOf loads data and returns its Problems; it fails the test when the spec loads.
func problemsOf(t *testing.T, name string, data []byte) Problems {
	t.Helper()
	_, _, err := LoadBytes(name, data, noEnv)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("%s: want Problems, got %v", name, err)
	}
	return ps
}

// hintless are snippets that reach the problems that once had no hint, beyond the corpus in
// testdata/invalid.
var hintless = map[string]string{
	"bool":             "host: maybe",
	"float":            "alerts: {thresholds: {cpu_percent: lots}}",
	"field-name":       "{[a]: 1}",
	"single-value":     "name: [a, b]",
	"two-passwords":    "grafana: {admin_password: x, admin_password_file: /etc/hostname}",
	"short-scrape":     "prometheus: {scrape_interval: 500ms, evaluation_interval: 10ms}",
	"metrics-path":     "targets: [{name: a, url: 'h:1', metrics_path: metrics}]",
	"target-interval":  "targets: [{name: a, url: 'h:1', scrape_interval: 10ms}]",
	"negative":         "alerts: {thresholds: {queue_length: -1, throughput_min: -2, gpu_temp_celsius: -3}}",
	"override-both":    "targets: [{name: a, url: 'h:1'}]\nalerts: {overrides: [{target: a, engine: vllm}]}",
	"override-none":    "alerts: {overrides: [{target: nope}]}",
	"hours":            "alerts: {working_hours: {start: '18:00', end: '09:00'}}",
	"anomaly":          "alerts: {anomaly: {enabled: true, window: 1m}}",
	"url-and-file":     "notify: {receivers: [{name: w, webhook: {url: 'https://h/x', url_file: /etc/hostname}}]}",
	"url-scheme":       "notify: {receivers: [{name: w, webhook: {url: 'ftp://h/x'}}]}",
	"dup-receiver":     "notify: {receivers: [{name: w, webhook: {url: 'https://h/x'}}, {name: w, webhook: {url: 'https://h/y'}}]}",
	"no-kind":          "notify: {receivers: [{name: w}]}",
	"dingtalk-secrets": "notify: {receivers: [{name: d, dingtalk: {url: 'https://oapi.dingtalk.com/robot/send?access_token=x', secret: SECx, secret_file: /etc/hostname, at_mobiles: [x]}}]}",
	"wecom-app":        "notify: {receivers: [{name: w, wecom_app: {corp_id: c, secret: s, to_user: u, api_url: ':'}}]}",
	"route":            "notify: {route: {group_interval: 10ms, repeat_interval: 10s}}",
	"email":            "notify: {receivers: [{name: m, email: {to: [nope], from: nope, smarthost: 'h:587', username: u, password: p, password_file: /etc/hostname}}]}",
	"slo":              "slo: {availability: 100, period: 2h, latency: {metric: ttf, threshold: 10us, objective: 120}}\ntargets: [{name: a, url: 'h:1', engine: llamacpp, slo: {}}]",
	"slo-loose":        "slo: {availability: 90}\ntargets: [{name: a, url: 'h:1'}]",
	"zeros":            "version: 0\nprometheus: {port: 0, retention: 0s}\nalerts: {thresholds: {cpu_percent: 0}, anomaly: {enabled: true, z_score: 0}}\ninternal_ports: {dcgm_exporter: 0}",
}

// TestEveryProblemHasAHint: every problem of every invalid spec says what to do.
func TestEveryProblemHasAHint(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	inputs := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = data
	}
	for name, text := range hintless {
		inputs[name] = []byte(text)
	}
	inputs["huge"] = []byte(strings.Repeat("#", MaxSize+10))
	inputs["binary"] = []byte("name: a\x00")
	inputs["empty"] = []byte("# nothing\n")
	seen := 0
	for name, data := range inputs {
		for _, p := range problemsOf(t, name, data) {
			seen++
			if strings.TrimSpace(p.Hint) == "" {
				t.Errorf("%s: problem without a hint: %s", name, p)
			}
			if p.Line < 1 || p.Col < 1 {
				t.Errorf("%s: problem without a place: %s", name, p)
			}
		}
	}
	if seen < len(inputs) {
		t.Fatalf("only %d problems from %d inputs", seen, len(inputs))
	}
}

// TestNoHintlessCallInSource: no call that reports a problem passes an empty hint, so a new
// check cannot forget it (the corpus above only covers the problems it reaches).
func TestNoHintlessCallInSource(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	calls := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				sel, ok := x.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				hintArg := map[string]int{"add": 2, "addKey": 2, "addAt": 3, "fail": 3}[sel.Sel.Name]
				if hintArg == 0 || len(x.Args) <= hintArg {
					return true
				}
				calls++
				if lit, ok := x.Args[hintArg].(*ast.BasicLit); ok && (lit.Value == `""` || lit.Value == "``") {
					t.Errorf("%s: %s(...) with an empty hint", fset.Position(x.Pos()), sel.Sel.Name)
				}
			case *ast.CompositeLit:
				if id, ok := x.Type.(*ast.Ident); !ok || id.Name != "Problem" {
					return true
				}
				hasHint := false
				for _, e := range x.Elts {
					if kv, ok := e.(*ast.KeyValueExpr); ok {
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Hint" {
							hasHint = true
						}
					}
				}
				// The validator and decoder helpers build Problems from their hint parameter.
				if !hasHint && !strings.Contains(fset.Position(x.Pos()).Filename, "errors.go") {
					t.Errorf("%s: Problem literal without Hint", fset.Position(x.Pos()))
				}
			}
			return true
		})
	}
	if calls < 50 {
		t.Fatalf("found only %d problem reports: is the check still looking at the right calls?", calls)
	}
}

// TestExplicitZeroIsAnError: a numeric field written as 0 is an error at its place; the same
// field left out, or left empty, gets the default.
func TestExplicitZeroIsAnError(t *testing.T) {
	cases := []struct{ yaml, path, msg, hint string }{
		{"prometheus:\n  port: 0\n", "prometheus.port", "port 0 is out of range", "default (9090)"},
		{"alertmanager: {port: 0}\n", "alertmanager.port", "port 0 is out of range", "default (9093)"},
		{"internal_ports: {node_exporter: 0}\n", "internal_ports.node_exporter", "port 0 is out of range", "default (9100)"},
		{"prometheus: {scrape_interval: 0s}\n", "prometheus.scrape_interval", "scrape_interval cannot be 0s", "default (5s)"},
		{"prometheus: {evaluation_interval: '0'}\n", "prometheus.evaluation_interval", "evaluation_interval cannot be 0s", "default (5s)"},
		{"prometheus: {retention: 0d}\n", "prometheus.retention", "retention cannot be 0s", "default (15d)"},
		{"alerts: {thresholds: {down_for: 0s}}\n", "alerts.thresholds.down_for", "down_for cannot be 0s", "default (10s)"},
		{"alerts: {thresholds: {error_rate_percent: 0.0}}\n", "alerts.thresholds.error_rate_percent", "error_rate_percent cannot be 0", "alerts.disable"},
		{"targets: [{name: a, url: 'h:1'}]\nalerts: {overrides: [{target: a, thresholds: {ttft_p95: 0s}}]}\n", "alerts.overrides[0].thresholds.ttft_p95", "ttft_p95 cannot be 0s", "from alerts.thresholds.ttft_p95"},
		{"alerts: {anomaly: {enabled: true, window: 0s}}\n", "alerts.anomaly.window", "window cannot be 0s", "default (1h)"},
		{"notify: {route: {repeat_interval: 0s}}\n", "notify.route.repeat_interval", "repeat_interval cannot be 0s", "default (4h)"},
		{"version: 0\n", "version", "unsupported spec version 0", "version: 1"},
		{"bind: \"\"\n", "bind", "bind cannot be empty", "default (127.0.0.1)"},
		{"targets: [{name: a, url: 'h:1', engine: ''}]\n", "targets[0].engine", "engine cannot be empty", "default (auto)"},
	}
	for _, c := range cases {
		ps := problemsOf(t, "zero.yaml", []byte(c.yaml))
		if len(ps) != 1 || ps[0].Path != c.path || !strings.Contains(ps[0].Msg, c.msg) || !strings.Contains(ps[0].Hint, c.hint) {
			t.Errorf("%q: want one problem at %s saying %q with %q in the hint, got\n%v", c.yaml, c.path, c.msg, c.hint, ps)
		}
	}
	// Absent, or written with no value: the default.
	for _, text := range []string{"prometheus: {}\n", "prometheus:\n  port:\n  scrape_interval: ~\nbind:\n"} {
		s, _, err := LoadBytes("absent.yaml", []byte(text), noEnv)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if s.Prometheus.Port != DefaultPrometheusPort || s.Prometheus.ScrapeInterval.D() != 5*time.Second || s.Bind != "127.0.0.1" {
			t.Errorf("%q: got port %d, scrape_interval %s; want the defaults", text, s.Prometheus.Port, s.Prometheus.ScrapeInterval)
		}
	}
	// A value other than zero is kept, and so is a value from a variable.
	s, _, err := LoadBytes("set.yaml", []byte("prometheus: {port: '${P}'}\n"), func(string) (string, bool) { return "9999", true })
	if err != nil || s.Prometheus.Port != 9999 {
		t.Fatalf("port from a variable: %v, %v", s, err)
	}
}

// slowInputs are inputs of at most MaxSize that once took minutes to load (each comment: what
// was slow). They are kept as regression tests with a deadline, which is generous: each loads in
// a few seconds at most now.
func slowInputs() map[string][]byte {
	long := func(c string) string { return strings.Repeat(c, 400_000) }
	return map[string][]byte{
		// "did you mean": an edit distance over two long names costs the product of their
		// lengths (1.6e11 steps).
		"long-names": []byte("targets: [{name: " + long("a") + ", url: 'h:1'}]\nalerts: {overrides: [{target: " + long("b") + "}]}\n"),
		// Merging decoding and validation problems compared every pair (1e10 comparisons).
		"many-problems": []byte("targets:\n" + strings.Repeat("- {name: a, url: 'h:1', engine: x, bogus: 1}\n", MaxSize/46)),
		// A regular expression compiled once per phone number.
		"many-mobiles": []byte("notify: {receivers: [{name: d, dingtalk: {url: 'https://x/?access_token=1', at_mobiles: [" + strings.Repeat("1,", MaxSize/2-100) + "1]}}]}"),
		// Aliases: a receiver of 1000 addresses repeated 20000 times (2e7 values).
		"alias-bomb": []byte("notify:\n  receivers:\n    - &r {name: m, email: {to: [" + strings.Repeat("a@b.c,", 1000) + "a@b.c], from: a@b.c, smarthost: 'h:587'}}\n" + strings.Repeat("    - *r\n", 20000)),
		// Thousands of wrong references to thousands of targets, each with a "did you mean"
		// over every name and every name in its hint.
		"many-references": []byte("targets:\n" + strings.Repeat("- {name: tgt, url: 'h:1'}\n", 10000) + "alerts:\n  overrides:\n" + strings.Repeat("  - {target: tgx}\n", 10000)),
	}
}

func TestSlowInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("loads five 1 MiB inputs")
	}
	for name, data := range slowInputs() {
		if len(data) > MaxSize {
			t.Fatalf("%s: %d bytes, over MaxSize", name, len(data))
		}
		start := time.Now()
		_, _, err := LoadBytes(name+".yaml", data, noEnv)
		took := time.Since(start)
		var ps Problems
		if !errors.As(err, &ps) {
			t.Fatalf("%s: want Problems, got %v", name, err)
		}
		// Before the fixes these took from 1 to 40 minutes; now at most seconds (on a shared
		// machine, with the race detector).
		if took > 30*time.Second {
			t.Errorf("%s: %d bytes took %s to load, want well under 30s", name, len(data), took)
		}
		if msg := ps.Error(); strings.Count(msg, "\n    hint:") > maxShown+1 || len(msg) > 200_000 {
			t.Errorf("%s: the message lists %d bytes; want at most %d problems", name, len(msg), maxShown)
		}
		t.Logf("%s: %d bytes, %d problem(s), %s", name, len(data), len(ps), took.Round(time.Millisecond))
	}
}

// TestAliasExpansionBound counts what the decoder does with aliases: a small file whose
// aliases expand to millions of values is refused after maxAliasExpansion values, and ordinary
// use of anchors is not.
func TestAliasExpansionBound(t *testing.T) {
	// 60 addresses in a receiver repeated 400 times: 24000 values from a 3 KB file.
	bomb := "notify:\n  receivers:\n    - &r {name: m, email: {to: [" + strings.Repeat("a@b.c,", 59) + "a@b.c], from: a@b.c, smarthost: 'h:587'}}\n" + strings.Repeat("    - *r\n", 400)
	s, _, err := Parse("bomb.yaml", []byte(bomb), noEnv)
	if s != nil || err == nil || !strings.Contains(err.Error(), "expand to more than 2000 values") {
		t.Fatalf("want the alias bound, got %v", err)
	}
	// Ordinary use: one set of labels shared by 100 targets.
	var b strings.Builder
	b.WriteString("targets:\n  - {name: t0, url: 'h:1', labels: &l {team: a, tier: b}}\n")
	for i := 1; i < 100; i++ {
		fmt.Fprintf(&b, "  - {name: t%d, url: 'h:1', labels: *l}\n", i)
	}
	sp, _, err := LoadBytes("anchors.yaml", []byte(b.String()), noEnv)
	if err != nil {
		t.Fatalf("ordinary anchors: %v", err)
	}
	if got := sp.Targets[99].Labels["tier"]; got != "b" {
		t.Fatalf("alias not expanded: labels %v", sp.Targets[99].Labels)
	}
}

// TestTooLargeSaysTheRealSize: the message names the file's real size and the real limit.
func TestTooLargeSaysTheRealSize(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{MaxSize + 1, 3 * MaxSize / 2, 5 << 20} {
		p := filepath.Join(dir, fmt.Sprintf("big-%d.yaml", size))
		if err := os.WriteFile(p, []byte(strings.Repeat("#", size)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(p, noEnv)
		var ps Problems
		if !errors.As(err, &ps) || len(ps) != 1 {
			t.Fatalf("%d bytes: want one problem, got %v", size, err)
		}
		if want := fmt.Sprintf("(%d bytes)", size); !strings.Contains(ps[0].Msg, want) {
			t.Errorf("%d bytes: message does not say %q: %s", size, want, ps[0].Msg)
		}
		if want := "at most 1 MiB (1048576 bytes)"; !strings.Contains(ps[0].Hint, want) {
			t.Errorf("hint does not say %q: %s", want, ps[0].Hint)
		}
	}
	// In memory, too.
	ps := problemsOf(t, "mem.yaml", []byte(strings.Repeat("#", 3<<20)))
	if !strings.Contains(ps[0].Msg, "3 MiB (3145728 bytes)") {
		t.Errorf("in memory: %s", ps[0].Msg)
	}
}

// TestSchemaRefusesZeros: the JSON Schema says what the loader says, so that an editor flags
// port: 0 and scrape_interval: 0s too.
func TestSchemaRefusesZeros(t *testing.T) {
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatal(err)
	}
	prop := func(path ...string) map[string]any {
		m := root
		for _, p := range path {
			if p == "[]" {
				m = m["items"].(map[string]any)
				continue
			}
			m = m["properties"].(map[string]any)[p].(map[string]any)
		}
		return m
	}
	if p := prop("prometheus", "port"); p["minimum"] != 1.0 || p["maximum"] != 65535.0 {
		t.Errorf("prometheus.port: %v", p)
	}
	if p := prop("internal_ports", "relay"); p["minimum"] != 1.0 || p["maximum"] != 65535.0 {
		t.Errorf("internal_ports.relay: %v", p)
	}
	if p := prop("alerts", "thresholds", "cpu_percent"); p["exclusiveMinimum"] != 0.0 {
		t.Errorf("cpu_percent: %v", p)
	}
	if p := prop("targets", "[]", "scrape_interval"); p["not"] == nil {
		t.Errorf("targets[].scrape_interval: %v", p)
	}
	if p := prop("bind"); p["minLength"] != 1.0 {
		t.Errorf("bind: %v", p)
	}
}
