package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/render"
)

// link is a TCP proxy the test can cut and restore: the network between an agent and the
// central stack.
type link struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newLink(t *testing.T, target string) *link {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k := &link{l: l, target: target}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			k.mu.Lock()
			if k.cut {
				k.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				k.mu.Unlock()
				c.Close()
				continue
			}
			k.conns = append(k.conns, c, up)
			k.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close(); k.set(true) })
	return k
}

// set cuts the link (closing every connection through it) or restores it.
func (k *link) set(cut bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cut = cut
	if cut {
		for _, c := range k.conns {
			c.Close()
		}
		k.conns = nil
	}
}

// startVictoriaMetrics runs Debian's victoria-metrics on a free port, showing the newest data
// at once (its default hides the last 30 s).
func startVictoriaMetrics(t *testing.T) string {
	bin, err := exec.LookPath("victoria-metrics")
	if err != nil {
		testenv.SkipOrFail(t, "victoria-metrics is not installed (apt-get install victoria-metrics; make test-deps does)")
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir(), "-search.latencyOffset=0s", "-loggerLevel=ERROR")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("victoria-metrics does not start")
		}
	}
}

// vmQuery runs an instant query on VictoriaMetrics and returns the series' labels.
func vmQuery(t *testing.T, base, q string) []map[string]string {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&r)
	var out []map[string]string
	for _, x := range r.Data.Result {
		out = append(out, x.Metric)
	}
	return out
}

// TestIntegrationFleet: an agent stack (the exporters and Prometheus in agent mode) on "gpu-01"
// sends to a central stack through a link the test can cut, and to a real VictoriaMetrics.
// The central side and VictoriaMetrics hold the agent's series with host="gpu-01"; cutting the
// link raises LLMHostNotReporting on the central stack; restoring it delivers what the agent
// queued meanwhile, with no gap, and the alert resolves.
func TestIntegrationFleet(t *testing.T) {
	vm := startVictoriaMetrics(t)
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 3\n")
	}))
	defer model.Close()

	// The central stack runs VictoriaMetrics itself as its long-term store (Debian's build,
	// in a local image) and its dashboards read it.
	central := newStack(t, "fleet: {role: central, host_name: central}\nlong_term: {victoriametrics: true}\n")
	if code, out := central.run(t, "up"); code != 0 {
		t.Fatalf("central up: %d\n%s", code, out)
	}
	wire := newLink(t, fmt.Sprintf("127.0.0.1:%d", central.prom))
	agent := newStack(t, fmt.Sprintf(`fleet:
  role: agent
  host_name: gpu-01
  central: http://%s
  central_password_file: %s
targets:
  - {name: chat, engine: vllm, url: %q}
remote_write:
  - {name: victoria, url: "%s/api/v1/write"}
`, wire.l.Addr(), filepath.Join(central.dir, "data", "secrets", "llmmon-password"), model.URL, vm))
	code, out := agent.run(t, "up")
	if code != 0 {
		t.Fatalf("agent up: %d\n%s", code, out)
	}
	if cs := agent.containers(t); cs["alertmanager"] != "" || cs["grafana"] != "" || cs["prometheus"] == "" {
		t.Errorf("an agent runs %v, want Prometheus and the exporters only", cs)
	}

	// The agent's series arrive with their host, on the central stack and in VictoriaMetrics.
	waitFor(t, "the agent's series on the central stack", time.Minute, func() bool {
		return len(central.query(t, `up{host="gpu-01",job="vllm",target="chat"} == 1`)) == 1
	}, nothing)
	waitFor(t, "the agent's series in VictoriaMetrics", time.Minute, func() bool {
		return len(vmQuery(t, vm, `vllm:num_requests_running{host="gpu-01",target="chat"}`)) == 1
	}, nothing)
	// The central stack's own VictoriaMetrics has the agent's series too (the central
	// Prometheus forwards what it receives), and Grafana's dashboards read it.
	if cs := central.containers(t); cs["victoriametrics"] == "" {
		t.Fatalf("the central stack runs no victoriametrics: %v", cs)
	}
	ltPort := central.specInt(t, "victoriametrics")
	waitFor(t, "the agent's series in the central stack's VictoriaMetrics", time.Minute, func() bool {
		return len(vmQuery(t, fmt.Sprintf("http://127.0.0.1:%d", ltPort), `up{host="gpu-01",job="vllm"}`)) == 1
	}, nothing)
	var ds struct {
		URL string `json:"url"`
	}
	code, body := call(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/datasources/uid/llmmon-prometheus", central.graf), basic("admin", grafanaPassword(t, central)), nil)
	if err := json.Unmarshal([]byte(body), &ds); err != nil || code != 200 {
		t.Fatalf("Grafana's datasource: %d %v: %s", code, err, body)
	}
	if ds.URL != fmt.Sprintf("http://127.0.0.1:%d", ltPort) {
		t.Errorf("the dashboards' datasource points at %q, want the long-term store", ds.URL)
	}
	if rs := central.query(t, `count by (host) (up)`); len(rs) != 2 {
		t.Errorf("hosts on the central stack: %v, want central and gpu-01", rs)
	}
	// The fleet overview's panels have data on the real central Prometheus (but the GPUs':
	// there are none here, and the request panels': the stub service serves no requests).
	defs, err := render.LoadDashboardDefs(dashboards.FS)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if d.UID != render.FleetDashboardUID {
			continue
		}
		for _, p := range d.Panels {
			if strings.HasPrefix(p.Key, "fleet-gpu") || p.Key == "fleet-requests" || p.Key == "fleet-errors" {
				continue
			}
			q := strings.ReplaceAll(p.Queries[0].Expr, "$host", ".*")
			if len(central.query(t, q)) == 0 {
				t.Errorf("fleet panel %s has no data: %s", p.Key, q)
			}
		}
	}
	_, st := central.run(t, "status")
	if !strings.Contains(st, "gpu-01") || !strings.Contains(st, "reporting") {
		t.Errorf("central status does not list gpu-01 as reporting:\n%s", st)
	}
	_, st = agent.run(t, "status")
	if !strings.Contains(st, "REMOTE WRITE") || !strings.Contains(st, "victoria") || !strings.Contains(st, "sending") {
		t.Errorf("agent status does not show its queues:\n%s", st)
	}

	// Cut the agent off: the central stack raises LLMHostNotReporting (2 minutes without a
	// sample, for 1 minute).
	cutAt := time.Now()
	wire.set(true)
	waitFor(t, "LLMHostNotReporting firing", 5*time.Minute, func() bool {
		for _, a := range central.alerts(t) {
			if a.name == "LLMHostNotReporting" && a.state == "firing" {
				return true
			}
		}
		return false
	}, func() string { _, st := central.run(t, "status"); return st })
	firedAfter := time.Since(cutAt)
	_, st = central.run(t, "status")
	if !strings.Contains(st, "silent for") {
		t.Errorf("central status does not say gpu-01 is silent:\n%s", st)
	}
	restoredAt := time.Now()
	wire.set(false)

	// What the agent scraped while cut off arrives: every 2 s sample of the cut, within the
	// queue's limits (the write-ahead log keeps hours).
	cut := restoredAt.Sub(cutAt)
	want := int(cut / (2 * time.Second))
	var got int
	waitFor(t, "the queued samples on the central stack", 2*time.Minute, func() bool {
		q := fmt.Sprintf(`count_over_time(up{host="gpu-01",job="vllm"}[%ds] @ %d)`, int(cut.Seconds()), restoredAt.Unix())
		v := central.promValue(t, q)
		got = int(v)
		return got >= want-2
	}, func() string { return fmt.Sprintf("%d of %d samples", got, want) })
	waitFor(t, "LLMHostNotReporting resolved", 2*time.Minute, func() bool {
		for _, a := range central.alerts(t) {
			if a.name == "LLMHostNotReporting" {
				return false
			}
		}
		return true
	}, nothing)
	t.Logf("LLMHostNotReporting fired %s after the cut; %d of %d samples of the %s cut delivered after it healed", firedAfter.Round(time.Second), got, want, cut.Round(time.Second))
}

func nothing() string { return "" }

// specInt reads internal_ports.NAME (a number) from the stack's spec file.
func (e *stackEnv) specInt(t *testing.T, name string) int {
	b, err := os.ReadFile(e.spec)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(regexp.QuoteMeta(name) + `: (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s port in the spec", name)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
