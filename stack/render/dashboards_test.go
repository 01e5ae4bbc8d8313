package render_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/render"
)

// engineJobs are the engines that have a dashboard of their own, llmmon-<engine>, whose queries
// read the engine's own metrics from its scrape job of the same name.
var engineJobs = []string{"vllm", "sglang", "tgi", "llamacpp", "triton", "lmdeploy", "custom"}

// wantDatasource is the only datasource reference a dashboard may hold.
var wantDatasource = map[string]any{"type": "prometheus", "uid": "llmmon-prometheus"}

// renderedDashboards returns the dashboards' JSON as the bundle ships them, by uid.
func renderedDashboards(t *testing.T) map[string][]byte {
	t.Helper()
	files := renderCase(t, "example").Under("grafana/dashboards/" + render.DashboardFolder + "/")
	out := map[string][]byte{}
	for name, f := range files {
		var d struct {
			UID string `json:"uid"`
		}
		if err := json.Unmarshal(f.Data, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.UID == "" {
			t.Errorf("%s has no uid", name)
		}
		if name != d.UID+".json" {
			t.Errorf("%s holds uid %q", name, d.UID)
		}
		if _, dup := out[d.UID]; dup {
			t.Errorf("uid %q is used by two dashboards", d.UID)
		}
		out[d.UID] = f.Data
	}
	if len(out) == 0 {
		t.Fatal("no dashboards rendered")
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestDashboardUIDsAndKeysUnique: every definition has its own uid and every panel key is unique
// across all dashboards (alerts link to panels by key); every engine has its dashboard.
func TestDashboardUIDsAndKeysUnique(t *testing.T) {
	defs, err := render.LoadDashboardDefs(dashboards.FS)
	if err != nil {
		t.Fatal(err)
	}
	uids, keys := map[string]bool{}, map[string]string{}
	for _, d := range defs {
		if d.UID == "" || !strings.HasPrefix(d.UID, "llmmon-") {
			t.Errorf("dashboard %q: uid %q must start with llmmon-", d.Title, d.UID)
		}
		if uids[d.UID] {
			t.Errorf("uid %q is used twice", d.UID)
		}
		uids[d.UID] = true
		for _, p := range d.Panels {
			if other, dup := keys[p.Key]; dup {
				t.Errorf("panel key %q is used in %s and %s", p.Key, other, d.UID)
			}
			keys[p.Key] = d.UID
		}
	}
	rendered := renderedDashboards(t)
	for _, e := range engineJobs {
		uid := "llmmon-" + e
		if !uids[uid] || rendered[uid] == nil {
			t.Errorf("engine %s has no dashboard %s", e, uid)
		}
	}
	for _, d := range defs {
		if !slices.Contains(engineJobs, strings.TrimPrefix(d.UID, "llmmon-")) {
			continue
		}
		if n := len(d.Panels); n < 6 || n > 10 {
			t.Errorf("%s has %d panels, want 6 to 10", d.UID, n)
		}
		for _, p := range d.Panels {
			if e := strings.TrimPrefix(d.UID, "llmmon-"); !strings.HasPrefix(p.Key, e+"-") {
				t.Errorf("%s: panel key %q does not start with %q", d.UID, p.Key, e+"-")
			}
		}
	}
}

// TestDashboardPanelsHaveDescriptionAndUnit checks the definitions (a unit must be chosen, not
// defaulted) and the JSON users get.
func TestDashboardPanelsHaveDescriptionAndUnit(t *testing.T) {
	defs, err := render.LoadDashboardDefs(dashboards.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		for _, p := range d.Panels {
			if strings.TrimSpace(p.Description) == "" {
				t.Errorf("%s: panel %s has no description", d.UID, p.Key)
			}
			if strings.TrimSpace(p.Unit) == "" {
				t.Errorf("%s: panel %s has no unit", d.UID, p.Key)
			}
		}
	}
	rendered := renderedDashboards(t)
	for _, uid := range sortedKeys(rendered) {
		data := rendered[uid]
		var board struct {
			Panels []map[string]any `json:"panels"`
		}
		if err := json.Unmarshal(data, &board); err != nil {
			t.Fatalf("%s: %v", uid, err)
		}
		if len(board.Panels) == 0 {
			t.Errorf("%s has no panels", uid)
		}
		for _, p := range board.Panels {
			title, _ := p["title"].(string)
			if desc, _ := p["description"].(string); strings.TrimSpace(desc) == "" {
				t.Errorf("%s: panel %q has no description", uid, title)
			}
			fc, _ := p["fieldConfig"].(map[string]any)
			defaults, _ := fc["defaults"].(map[string]any)
			if unit, _ := defaults["unit"].(string); unit == "" {
				t.Errorf("%s: panel %q has no unit", uid, title)
			}
		}
	}
}

// TestDashboardsFollowGrafanaSchema: every dashboard llmmon generates decodes strictly with the
// Grafana Foundation SDK (no field the current schema lacks, none it requires left out, every
// value of its type, panel options and Prometheus queries included), passes the SDK's
// validation, and declares the current schemaVersion, so Grafana serves it as it is, with
// nothing to migrate. The dashboards do not depend on the spec: one render covers them all.
func TestDashboardsFollowGrafanaSchema(t *testing.T) {
	rendered := renderedDashboards(t)
	for _, uid := range sortedKeys(rendered) {
		for _, p := range check.DashboardSchema(uid+".json", rendered[uid]) {
			t.Error(p)
		}
		if r, err := check.InspectDashboard(rendered[uid]); err == nil && r.SchemaVersion != check.DashboardSchemaVersion {
			t.Errorf("%s: schemaVersion %d, want %d", uid, r.SchemaVersion, check.DashboardSchemaVersion)
		}
	}
}

// walkDatasources calls visit for the value of every "datasource" key anywhere in a JSON tree.
func walkDatasources(v any, path string, visit func(path string, ds any)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if k == "datasource" {
				visit(path+"."+k, x[k])
			}
			walkDatasources(x[k], path+"."+k, visit)
		}
	case []any:
		for i, c := range x {
			walkDatasources(c, fmt.Sprintf("%s[%d]", path, i), visit)
		}
	}
}

// TestDashboardDatasources: every datasource reference is llmmon's fixed uid, and no dashboard
// carries an import placeholder such as ${DS_PROMETHEUS}.
func TestDashboardDatasources(t *testing.T) {
	for uid, data := range renderedDashboards(t) {
		if bytes.Contains(data, []byte("${DS_")) {
			t.Errorf("%s contains a ${DS_...} placeholder", uid)
		}
		var tree any
		if err := json.Unmarshal(data, &tree); err != nil {
			t.Fatalf("%s: %v", uid, err)
		}
		n := 0
		walkDatasources(tree, uid, func(path string, ds any) {
			n++
			m, ok := ds.(map[string]any)
			if !ok || len(m) != len(wantDatasource) || m["type"] != wantDatasource["type"] || m["uid"] != wantDatasource["uid"] {
				got, _ := json.Marshal(ds)
				t.Errorf("%s = %s, want {\"type\":\"prometheus\",\"uid\":\"llmmon-prometheus\"}", path, got)
			}
		})
		if n == 0 {
			t.Errorf("%s has no datasource reference at all", uid)
		}
	}
}

// dashboardExprs parses every query of a dashboard (panels and variables), failing on any that
// Prometheus' parser rejects.
func dashboardExprs(t *testing.T, uid string, data []byte) map[string]parser.Expr {
	t.Helper()
	qs, err := check.DashboardQueries(data)
	if err != nil {
		t.Fatalf("%s: %v", uid, err)
	}
	if len(qs) == 0 {
		t.Errorf("%s has no queries", uid)
	}
	p := parser.NewParser(parser.Options{})
	out := map[string]parser.Expr{}
	for _, q := range qs {
		where := fmt.Sprintf("%s panel %d %q query %s", uid, q.PanelID, q.PanelTitle, q.RefID)
		if q.PanelID == 0 {
			where = fmt.Sprintf("%s %s", uid, q.RefID)
		}
		if strings.Contains(q.Expr, "$__") {
			t.Errorf("%s uses a Grafana interval variable; use a fixed [5m] window: %s", where, q.Expr)
		}
		promql := check.GrafanaToPromQL(q.Expr)
		if err := check.Expr(promql); err != nil {
			t.Errorf("%s does not parse: %v\n%s", where, err, q.Expr)
			continue
		}
		e, err := p.ParseExpr(promql)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		out[where] = e
	}
	return out
}

// TestDashboardQueriesParse parses every query of every dashboard with Prometheus' parser.
func TestDashboardQueriesParse(t *testing.T) {
	for uid, data := range renderedDashboards(t) {
		dashboardExprs(t, uid, data)
	}
}

// selector is one vector selector of a dashboard query.
type selector struct {
	where, name string
	matchers    []*labels.Matcher
}

func selectors(t *testing.T, where string, e parser.Expr) []selector {
	t.Helper()
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{where: where}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName {
				if m.Type != labels.MatchEqual {
					t.Errorf("%s: selector %s does not name one metric", where, vs)
				}
				s.name = m.Value
				continue
			}
			s.matchers = append(s.matchers, m)
		}
		if s.name == "" {
			t.Errorf("%s: selector %s has no metric name", where, vs)
		}
		out = append(out, s)
		return nil
	})
	return out
}

// engineSelectors returns every selector of an engine's dashboard, in a stable order.
func engineSelectors(t *testing.T, engine string, data []byte) []selector {
	t.Helper()
	exprs := dashboardExprs(t, "llmmon-"+engine, data)
	var out []selector
	for _, where := range sortedKeys(exprs) {
		out = append(out, selectors(t, where, exprs[where])...)
	}
	return out
}

// ownMetric reports whether a metric is the engine's own, as opposed to an llmmon:* recorded
// series or Prometheus' up.
func ownMetric(name string) bool { return name != "up" && !strings.HasPrefix(name, "llmmon:") }

// TestEngineDashboardsAreScoped: every selector of an engine dashboard is limited to that
// engine's scrape job and the $target variable, and the dashboard reads the engine's own metrics.
func TestEngineDashboardsAreScoped(t *testing.T) {
	rendered := renderedDashboards(t)
	for _, engine := range engineJobs {
		data := rendered["llmmon-"+engine]
		if data == nil {
			t.Errorf("no dashboard llmmon-%s", engine)
			continue
		}
		own := 0
		for _, s := range engineSelectors(t, engine, data) {
			job, target := false, false
			for _, m := range s.matchers {
				switch {
				case (m.Name == "job" || m.Name == "engine") && m.Type == labels.MatchEqual && m.Value == engine:
					job = true
				case m.Name == "target" && m.Type == labels.MatchRegexp:
					target = true
				}
			}
			if !job {
				t.Errorf("%s: %s is not limited to job=%q", s.where, s.name, engine)
			}
			if !target && !strings.HasPrefix(s.where, "llmmon-"+engine+" var target") {
				t.Errorf("%s: %s is not limited to target=~\"$target\"", s.where, s.name)
			}
			if ownMetric(s.name) {
				own++
			}
		}
		// The custom dashboard reads only the records, which an app's mapping or the tutorial
		// names feed.
		if own == 0 && engine != "custom" {
			t.Errorf("llmmon-%s reads none of the engine's own metrics", engine)
		}
	}
}

// exposition is what one engine exposes: each series name with the label names it carries.
type exposition map[string]map[string]bool

func (x exposition) add(name string, lbls []string) {
	if x[name] == nil {
		x[name] = map[string]bool{}
	}
	for _, l := range lbls {
		x[name][l] = true
	}
}

func (x exposition) merge(o exposition) {
	for n, ls := range o {
		x.add(n, sortedKeys(ls))
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startModelsim runs the built simulator serving engines on free loopback ports and returns the
// /metrics URL of each. It stops when the test ends.
func startModelsim(t *testing.T, bin string, extra []string, engines ...string) map[string]string {
	t.Helper()
	urls := map[string]string{}
	args := []string{"--control", "off"}
	for _, e := range engines {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		args = append(args, "--serve", e+"="+addr)
		urls[e] = "http://" + addr + "/metrics"
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Wait until every listener answers, then let about a second of traffic happen.
	deadline := time.Now().Add(15 * time.Second)
	for _, e := range engines {
		for {
			resp, err := http.Get(urls[e])
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("modelsim %s does not answer: %v\n%s", e, err, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	return urls
}

// scrapeExposition fetches /metrics once and parses it with Prometheus' text parser. A histogram
// family foo exposes foo_bucket, foo_sum and foo_count; a summary foo, foo_sum and foo_count.
func scrapeExposition(t *testing.T, url string) exposition {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	x := exposition{}
	for name, mf := range mfs {
		var lbls []string
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				lbls = append(lbls, l.GetName())
			}
		}
		switch mf.GetType().String() {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			x.add(name+"_bucket", append(lbls, "le"))
			x.add(name+"_sum", lbls)
			x.add(name+"_count", lbls)
		case "SUMMARY":
			x.add(name, append(lbls, "quantile"))
			x.add(name+"_sum", lbls)
			x.add(name+"_count", lbls)
		default:
			x.add(name, lbls)
		}
	}
	return x
}

// TestEngineDashboardMetricsExistInModelsim: every metric an engine dashboard reads is one the
// workload simulator (which reproduces each engine's real exposition) exposes for that engine,
// with every label the dashboard matches on. vLLM and SGLang are also run with their legacy
// names, which the dashboards fall back to.
func TestEngineDashboardMetricsExistInModelsim(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "modelsim")
	build := exec.Command("go", "build", "-o", bin, "./test/modelsim")
	build.Dir = testenv.Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./test/modelsim: %v\n%s", err, out)
	}
	// A high request rate in error-burst mode, so that within a second every labelled series
	// that client libraries create only on first use exists (TGI's failure counter, LMDeploy's
	// finish reasons, the custom app's status).
	traffic := []string{"--rps", "1000", "--mode", "error-burst", "--seed", "1"}
	current := startModelsim(t, bin, traffic, engineJobs...)
	legacy := startModelsim(t, bin, append([]string{"--vllm-legacy", "--sglang-legacy"}, traffic...), "vllm", "sglang")

	exposed := map[string]exposition{}
	for _, e := range engineJobs {
		exposed[e] = scrapeExposition(t, current[e])
		if url, ok := legacy[e]; ok {
			exposed[e].merge(scrapeExposition(t, url))
		}
	}

	rendered := renderedDashboards(t)
	for _, engine := range engineJobs {
		data := rendered["llmmon-"+engine]
		if data == nil {
			t.Errorf("no dashboard llmmon-%s", engine)
			continue
		}
		checked := map[string]bool{}
		for _, s := range engineSelectors(t, engine, data) {
			if !ownMetric(s.name) {
				continue
			}
			lbls, ok := exposed[engine][s.name]
			if !ok {
				if !checked[s.name] {
					t.Errorf("%s: metric %s is not exposed by modelsim's %s", s.where, s.name, engine)
				}
				checked[s.name] = true
				continue
			}
			for _, m := range s.matchers {
				if m.Name == "job" || m.Name == "target" || m.Name == "instance" {
					continue // target labels that Prometheus adds
				}
				if !lbls[m.Name] {
					t.Errorf("%s: %s has no label %q in modelsim's %s (it has %v)", s.where, s.name, m.Name, engine, sortedKeys(lbls))
				}
			}
		}
	}
}
