// Package e2e drives the llmmon binary against the machine's real Docker Engine, with test
// images built from the real upstream Prometheus, Alertmanager and node_exporter binaries
// (test/images/build.sh) and llmmon's Grafana stand-in. Tests are named TestIntegration* and
// are skipped under -short.
package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
)

var bin string

// testVersion is the version the tests build llmmon with.
const testVersion = "e2e-test"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every e2e test skips under -short: no need to build llmmon
	}
	dir, _ := os.MkdirTemp("", "llmmon-e2e-")
	bin = filepath.Join(dir, "llmmon")
	// Static, as make build does: up builds the relay's image FROM scratch from this binary.
	// The version marks the relay images these tests build, so that they are removed at the end.
	build := exec.Command("go", "build", "-ldflags", "-X github.com/llmmon/llmmon/cmd.Version="+testVersion, "-o", bin, testenv.Root())
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build llmmon: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if out, err := exec.Command("docker", "images", "-q", "--filter", "reference=llmmon-relay", "--filter", "label=io.llmmon.version="+testVersion).Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			exec.Command("docker", "rmi", "-f", id).Run()
		}
	}
	os.Exit(code)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type stackEnv struct {
	dir, spec, name string
	prom, am, graf  int
	relay           int
	remediation     int
}

// remediationPort is the stack's remediation agent port, chosen once.
func (e *stackEnv) remediationPort(t *testing.T) int {
	if e.remediation == 0 {
		e.remediation = freePort(t)
	}
	return e.remediation
}

// relayPort is the stack's relay port, chosen once.
func (e *stackEnv) relayPort(t *testing.T) int {
	if e.relay == 0 {
		e.relay = freePort(t)
	}
	return e.relay
}

func requireImages(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e test: skipped under -short")
	}
	for _, img := range []string{"llmmon-test/prometheus:3.15.0", "llmmon-test/alertmanager:0.31.1", "llmmon-test/node-exporter:1.12.1", grafanaImage()} {
		if exec.Command("docker", "image", "inspect", img).Run() != nil {
			testenv.SkipOrFail(t, "test image "+img+" is missing; run `make test-images`")
		}
	}
}

// grafanaImage is the Grafana stand-in's image: llmmon-test/grafana-standin:dev, or
// $LLMMON_E2E_GRAFANA_IMAGE (a stand-in built from a work tree whose stand-in changed).
func grafanaImage() string {
	if img := os.Getenv("LLMMON_E2E_GRAFANA_IMAGE"); img != "" {
		return img
	}
	return "llmmon-test/grafana-standin:dev"
}

func newStack(t *testing.T, extra string) *stackEnv {
	t.Helper()
	requireImages(t)
	e := &stackEnv{dir: t.TempDir(), name: fmt.Sprintf("e2e%d", time.Now().UnixNano()%1000000), prom: freePort(t), am: freePort(t), graf: freePort(t)}
	e.spec = filepath.Join(e.dir, "llmmon.yaml")
	e.write(t, extra)
	if os.Getenv("LLMMON_E2E_KEEP") == "" {
		t.Cleanup(func() { e.run(t, "down", "--volumes") })
	}
	return e
}

func (e *stackEnv) write(t *testing.T, extra string) {
	text := fmt.Sprintf(`name: %s
data_dir: %s/data
prometheus: {port: %d, scrape_interval: 2s, evaluation_interval: 2s}
alertmanager: {port: %d}
grafana: {port: %d}
internal_ports: {node_exporter: %d, relay: %d, remediation: %d, victoriametrics: %d}
images:
  prometheus: llmmon-test/prometheus:3.15.0
  alertmanager: llmmon-test/alertmanager:0.31.1
  node_exporter: llmmon-test/node-exporter:1.12.1
  victoriametrics: llmmon-test/victoria-metrics:1.79.5
  grafana: %s
%s`, e.name, e.dir, e.prom, e.am, e.graf, freePort(t), e.relayPort(t), e.remediationPort(t), freePort(t), grafanaImage(), extra)
	if err := os.WriteFile(e.spec, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *stackEnv) run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "-f", e.spec)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

func (e *stackEnv) containers(t *testing.T) map[string]string {
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=io.llmmon.project="+e.name, "--filter", "label=io.llmmon.managed=true", "--format", `{{.Label "io.llmmon.component"}} {{.ID}}`).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if c, id, ok := strings.Cut(l, " "); ok {
			if _, dup := m[c]; dup {
				t.Fatalf("duplicate container for %s", c)
			}
			m[c] = id
		}
	}
	return m
}

// get is http.Get logged in to the stack's Prometheus and Alertmanager, as user llmmon with
// the password llmmon up keeps in DATA_DIR/secrets (read, never created, here).
func (e *stackEnv) get(t *testing.T, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("llmmon", e.apiPassword(t))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// apiPassword is the stack's password of user llmmon on Prometheus and Alertmanager.
func (e *stackEnv) apiPassword(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "data", "secrets", "llmmon-password"))
	if err != nil {
		t.Fatalf("the stack's password (llmmon up writes it): %v", err)
	}
	return strings.TrimSpace(string(b))
}

// relayToken is the token the stack's relay wants.
func (e *stackEnv) relayToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "data", "secrets", "relay-token"))
	if err != nil {
		t.Fatalf("the stack's relay token (llmmon up writes it): %v", err)
	}
	return strings.TrimSpace(string(b))
}

// getJSON gets url with the stack's credentials and decodes its JSON answer into v.
func (e *stackEnv) getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp := e.get(t, url)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", url, err, b)
	}
}

// TestIntegrationUpConvergeDown: up from nothing to healthy; a second up changes nothing; a
// threshold change hot-reloads Prometheus without recreating it; status reports; down keeps
// the data volume and a later up finds the samples written before.
func TestIntegrationUpConvergeDown(t *testing.T) {
	e := newStack(t, "")
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	before := e.containers(t)
	if len(before) != 4 {
		t.Fatalf("want 4 containers, got %v", before)
	}
	code, out := e.run(t, "up")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("second up: exit %d\n%s", code, out)
	}
	if after := e.containers(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a no-op up changed containers: %v -> %v", before, after)
	}
	// A threshold change: Prometheus reloads its rules, same container.
	e.write(t, "alerts:\n  thresholds: {cpu_percent: 42}\n")
	code, out = e.run(t, "up")
	if code != 0 || !strings.Contains(out, "reload") {
		t.Fatalf("up after change: exit %d\n%s", code, out)
	}
	if after := e.containers(t); after["prometheus"] != before["prometheus"] {
		t.Fatalf("prometheus was recreated for a rules change")
	}
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name  string `json:"name"`
					Query string `json:"query"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	e.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/rules", e.prom), &rules)
	found := false
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			if r.Name == "HostHighCPU" && strings.Contains(r.Query, "> 42") {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("reloaded rules do not carry the new threshold")
	}
	code, out = e.run(t, "status", "-o", "json")
	var st struct {
		Healthy    bool
		Components []struct{ Component, Health string }
	}
	if err := json.NewDecoder(strings.NewReader(out[strings.Index(out, "{"):])).Decode(&st); err != nil {
		t.Fatalf("status json: %v\n%s", err, out)
	}
	for _, c := range st.Components {
		if c.Health != "healthy" {
			t.Errorf("%s: %s", c.Component, c.Health)
		}
	}
	_ = code
	// Data survives down and up: find a moment with samples (scraping starts a few seconds
	// after a reload, when service discovery settles), then restart the whole stack.
	var q struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	var marker int64
	deadline := time.Now().Add(60 * time.Second)
	for {
		marker = time.Now().Add(-time.Second).Unix()
		e.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=count(up)&time=%d", e.prom, marker), &q)
		if len(q.Data.Result) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus has scraped nothing")
		}
		time.Sleep(time.Second)
	}
	if code, out := e.run(t, "down"); code != 0 {
		t.Fatalf("down: %d\n%s", code, out)
	}
	if len(e.containers(t)) != 0 {
		t.Fatal("containers left after down")
	}
	if exec.Command("docker", "volume", "inspect", e.name+"_prometheus-data").Run() != nil {
		t.Fatal("down deleted the data volume")
	}
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up after down: %d\n%s", code, out)
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		e.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=count(up)&time=%d", e.prom, marker), &q)
		if len(q.Data.Result) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(q.Data.Result) == 0 {
		resp := e.get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query_range?query=count(up)&start=%d&end=%d&step=1", e.prom, marker-30, marker+30))
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("samples written before down (t=%d) are gone: %s", marker, b)
	}
}

// TestIntegrationPortInUse: a port held by another program is a clear error and nothing changes.
func TestIntegrationPortInUse(t *testing.T) {
	e := newStack(t, "")
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", e.graf))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, out := e.run(t, "up")
	if code == 0 || !strings.Contains(out, "already in use") || !strings.Contains(out, "grafana.port") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if len(e.containers(t)) != 0 {
		t.Fatal("preflight failure changed something")
	}
}

// TestIntegrationDockerUnreachable: a down daemon gets one clear sentence.
func TestIntegrationDockerUnreachable(t *testing.T) {
	e := newStack(t, "")
	cmd := exec.Command(bin, "up", "-f", e.spec)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/docker.sock")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "Docker daemon") {
		t.Fatalf("exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, s string) {
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
