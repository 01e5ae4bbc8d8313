package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
)

// hugeMetrics serves a /metrics of size bytes, generated while it is sent (never held in
// memory): a few vLLM series, so that add-target recognises the engine, then filler lines. It
// stops writing as soon as the client goes away, and records the most it wrote to one client.
type hugeMetrics struct {
	size int64

	mu   sync.Mutex
	sent []int64 // bytes written, per request
}

const vllmPrefix = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="qwen"} 0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="qwen"} 0
# TYPE llmmon_test_filler gauge
`

func (h *hugeMetrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	line := "llmmon_test_filler{pad=\"" + strings.Repeat("x", 80) + "\"} 1\n"
	chunk := []byte(strings.Repeat(line, 64<<10/len(line)))
	n, err := io.WriteString(w, vllmPrefix)
	sent := int64(n)
	for err == nil && sent < h.size && r.Context().Err() == nil {
		n, err = w.Write(chunk[:min(int64(len(chunk)), h.size-sent)])
		sent += int64(n)
	}
	h.mu.Lock()
	h.sent = append(h.sent, sent)
	h.mu.Unlock()
}

func (h *hugeMetrics) requests() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.sent...)
}

// memoryWatch samples a container's memory every 200ms until stop is called, which returns
// the most it saw.
func memoryWatch(t *testing.T, id string) (stop func() uint64) {
	done := make(chan struct{})
	res := make(chan uint64)
	go func() {
		var most uint64
		for {
			most = max(most, containerMemory(t, id))
			select {
			case <-done:
				res <- most
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); return <-res }
}

// promAPI GETs path (with its query) from the stack's Prometheus and decodes the JSON answer
// into v. Every call of these tests to Prometheus goes through it, so that credentials have one
// place to go.
func (e *stackEnv) promAPI(t *testing.T, path string, v any) {
	t.Helper()
	resp := e.get(t, fmt.Sprintf("http://127.0.0.1:%d%s", e.prom, path))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("prometheus %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("prometheus %s: %v: %s", path, err, b)
	}
}

// promValue returns the value of a PromQL query that must return one series, or -1 when it
// returns none.
func (e *stackEnv) promValue(t *testing.T, q string) float64 {
	t.Helper()
	var r struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	e.promAPI(t, "/api/v1/query?query="+url.QueryEscape(q), &r)
	if len(r.Data.Result) == 0 {
		return -1
	}
	if len(r.Data.Result) > 1 {
		t.Fatalf("%s: %d series, want one", q, len(r.Data.Result))
	}
	var f float64
	fmt.Sscan(r.Data.Result[0].Value[1].(string), &f)
	return f
}

// containerMemory returns a container's memory use as `docker stats` shows it: the cgroup's
// usage less the page cache (the TSDB's files, which the kernel reclaims at will), from the
// Docker Engine API's stats.
func containerMemory(t *testing.T, id string) uint64 {
	t.Helper()
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		p, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			testenv.SkipOrFail(t, "DOCKER_HOST="+h+": this test reads container stats over a unix socket")
		}
		sock = p
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://docker/containers/" + id + "/stats?stream=false&one-shot=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		MemoryStats struct {
			Usage uint64            `json:"usage"`
			Stats map[string]uint64 `json:"stats"`
		} `json:"memory_stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	m := st.MemoryStats
	if m.Usage == 0 {
		t.Fatalf("the Docker Engine reports no memory use for container %s", id)
	}
	// What the docker CLI subtracts: total_inactive_file (cgroup v1) or inactive_file (v2).
	cache := m.Stats["total_inactive_file"]
	if v, ok := m.Stats["inactive_file"]; ok && cache == 0 {
		cache = v
	}
	if cache > m.Usage {
		return 0
	}
	return m.Usage - cache
}

// smallMetrics serves a vLLM /metrics of n distinct series.
func smallMetrics(n int) http.Handler {
	var b strings.Builder
	b.WriteString(vllmPrefix)
	for i := range n {
		fmt.Fprintf(&b, "llmmon_test_filler{i=\"%d\"} 1\n", i)
	}
	body := b.String()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		io.WriteString(w, body)
	})
}

// TestIntegrationBoundedScrape: a target whose /metrics is 2 GB. add-target exits non-zero
// within about a scrape interval, saying the body is over the body_size limit; the target stays
// in the spec and Prometheus keeps trying it, reading no more than the limit each time, so its
// memory stays bounded over several scrapes; the self-alert names the target, and
// LLMServiceDown does not call the service down. Alongside, a target with a sample limit of its
// own (100, for 300 series) is scraped by a job of its own that keeps job="vllm", and its
// scrapes are refused with ScrapeSampleLimitExceeded.
func TestIntegrationBoundedScrape(t *testing.T) {
	requireImages(t)
	huge := &hugeMetrics{size: 2 << 30}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: huge}
	go srv.Serve(l)
	defer srv.Close()

	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	small := &http.Server{Handler: smallMetrics(300)}
	go small.Serve(sl)
	defer small.Close()

	e := newStack(t, fmt.Sprintf("targets:\n  - {name: small, engine: vllm, url: %q, limits: {samples: 100}}\n", "http://"+sl.Addr().String()))
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %d\n%s", code, out)
	}
	prom := e.containers(t)["prometheus"]
	baseline := containerMemory(t, prom)
	stopWatch := memoryWatch(t, prom)

	start := time.Now()
	code, out := e.run(t, "add-target", "big", "http://"+l.Addr().String())
	took := time.Since(start)
	if code != 1 {
		t.Fatalf("add-target of a 2 GB target: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"Added big (vllm)", "Prometheus' first scrape of big failed", "larger than the body_size limit (16MB)", "limits: {body_size: ...}", "stays in " + e.spec} {
		if !strings.Contains(out, want) {
			t.Errorf("add-target output does not say %q:\n%s", want, out)
		}
	}
	// The e2e stack scrapes every 2s; the old add-target waited its whole minute.
	if took > 20*time.Second {
		t.Errorf("add-target took %s to report a failed first scrape", took)
	}
	if !strings.Contains(readFile(t, e.spec), "name: big") {
		t.Fatal("the target was not kept in the spec")
	}

	// Several more scrapes of it, each refused at the limit, while Prometheus' memory is watched.
	failures := func() float64 {
		return e.promValue(t, `prometheus_target_scrapes_exceeded_body_size_limit_total{job="prometheus"}`)
	}
	first := failures()
	deadline := time.Now().Add(40 * time.Second)
	fired, firedSmall := false, false
	for !fired || !firedSmall || failures() < first+5 {
		if time.Now().After(deadline) {
			t.Fatalf("after 40s: ScrapeBodySizeLimitExceeded firing %v, ScrapeSampleLimitExceeded firing %v, body_size failures %v (from %v)", fired, firedSmall, failures(), first)
		}
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		e.promAPI(t, "/api/v1/alerts", &r)
		for _, a := range r.Data.Alerts {
			switch {
			case a.Labels["alertname"] == "ScrapeBodySizeLimitExceeded" && a.Labels["target"] == "big" && a.State == "firing":
				fired = true
			case a.Labels["alertname"] == "ScrapeSampleLimitExceeded" && a.Labels["target"] == "small" && a.Labels["job"] == "vllm" && a.State == "firing":
				firedSmall = true
			case a.Labels["alertname"] == "LLMServiceDown" && (a.Labels["target"] == "big" || a.Labels["target"] == "small"):
				t.Fatalf("LLMServiceDown says %s is down (%s); it answers, over a limit", a.Labels["target"], a.State)
			}
		}
		time.Sleep(time.Second)
	}
	most := stopWatch()
	// Prometheus' own view of its resident memory, scraped every 2s.
	rss := e.promValue(t, `max_over_time(process_resident_memory_bytes{job="prometheus"}[2m])`)
	if v := e.promValue(t, `scrape_body_size_bytes{target="big",job="vllm"}`); v != -1 {
		t.Errorf("scrape_body_size_bytes of big = %v, want -1 (over body_size_limit)", v)
	}
	if v := e.promValue(t, `up{target="big",job="vllm"}`); v != 0 {
		t.Errorf("up of big = %v, want 0", v)
	}
	if v := e.promValue(t, `scrape_sample_limit{target="small",job="vllm"}`); v != 100 {
		t.Errorf("scrape_sample_limit of small = %v, want its own 100", v)
	}
	if v := e.promValue(t, `scrape_samples_scraped{target="small",job="vllm"}`); v < 300 {
		t.Errorf("scrape_samples_scraped of small = %v, want its 300 series and more", v)
	}
	var tg struct {
		Data struct {
			Active []struct {
				ScrapePool string            `json:"scrapePool"`
				Labels     map[string]string `json:"labels"`
				LastError  string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	e.promAPI(t, "/api/v1/targets?state=active", &tg)
	pools := map[string]string{}
	for _, a := range tg.Data.Active {
		if a.Labels["target"] != "" {
			pools[a.Labels["target"]] = a.ScrapePool + " " + a.Labels["job"] + " " + a.LastError
		}
	}
	if pools["small"] != "vllm-small vllm sample limit exceeded" || pools["big"] != "vllm vllm body size limit exceeded" {
		t.Errorf("scrape pool, job and last error by target: %q", pools)
	}
	sent := huge.requests()
	t.Logf("prometheus memory: %d MiB before the target, at most %d MiB while it was scraped (docker stats), resident at most %.0f MiB (its own process_resident_memory_bytes); MiB sent per request: %v", baseline>>20, most>>20, rss/(1<<20), mib(sent))
	const bound = 500 << 20
	if most > bound || rss > bound || rss <= 0 {
		t.Errorf("prometheus used %d MiB (resident %.0f MiB), want under %d MiB", most>>20, rss/(1<<20), bound>>20)
	}
	if len(sent) < 6 {
		t.Errorf("the target was requested %d times, want the probe and at least 5 scrapes", len(sent))
	}
	// The probe hangs up after 8 MiB, and the server stops writing: the 2 GB are generated as
	// they are sent, never for a client that left. (Prometheus reads at most body_size into
	// memory and discards the rest until its scrape timeout.)
	if slices.Min(sent) > 64<<20 {
		t.Errorf("every request got more than 64 MiB (%v MiB): the server does not stop when the client hangs up", mib(sent))
	}
	code, out = e.run(t, "targets")
	if code != 0 || !strings.Contains(out, "body size limit exceeded") {
		t.Errorf("targets: exit %d, want big's LAST ERROR\n%s", code, out)
	}
}

func mib(bs []int64) []int64 {
	out := make([]int64, len(bs))
	for i, b := range bs {
		out[i] = b >> 20
	}
	return out
}
