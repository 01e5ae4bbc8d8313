package detect

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/test/modelsim/replay"
)

// release is the /metrics text of one real engine release and the engine it is.
type release struct {
	file, engine, text string
	inventory          bool // generated from an inventory of the release's source
}

// inventoryHeader starts the files that list a release's metrics from its source instead of
// recording its output (test/testdata/releases/README.md).
const inventoryHeader = "# INVENTORY FROM SOURCE"

// releases reads test/testdata/releases/*/*: the recorded expositions (*.prom) as they are, and
// the inventories from source (*.inventory.txt) turned into the exposition they describe. The
// engine is the file name's prefix, as in test/releases.
func releases(t *testing.T) []release {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.Root(), "test", "testdata", "releases", "*", "*"))
	if err != nil {
		t.Fatalf("list the releases: %v", err)
	}
	var out []release
	for _, f := range files {
		if !strings.HasSuffix(f, ".prom") && !strings.HasSuffix(f, ".inventory.txt") {
			continue // SOURCES.md
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read a release: %v", err)
		}
		r := release{file: filepath.Base(f)}
		for _, e := range []string{spec.EngineVLLM, spec.EngineSGLang, spec.EngineTGI, spec.EngineLlamaCPP, spec.EngineTriton, spec.EngineLMDeploy} {
			if strings.HasPrefix(r.file, e+"-") {
				r.engine = e
			}
		}
		if r.engine == "" {
			t.Fatalf("%s: no engine in its name", f)
		}
		if bytes.HasPrefix(data, []byte(inventoryHeader)) {
			if data, err = replay.FromInventory(data); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			r.inventory = true
		}
		r.text = string(data)
		out = append(out, r)
	}
	engines := map[string]bool{}
	for _, r := range out {
		engines[r.engine] = true
	}
	if len(engines) != 6 {
		t.Fatalf("releases of %d engines in test/testdata/releases, want all 6 (%d files)", len(engines), len(out))
	}
	return out
}

// app reads a tutorial app's exposition from test/testdata/apps.
func app(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "test", "testdata", "apps", name))
	if err != nil {
		t.Fatalf("read an app's metrics: %v", err)
	}
	return string(b)
}

const (
	htmlPage = "<!DOCTYPE html>\n<html><head><title>Model server</title></head><body>Hello</body></html>\n"
	jsonBody = "{\"object\": \"list\", \"data\": [{\"id\": \"qwen\"}]}\n"
)

// Every release, recorded or from source, is recognised as its engine.
func TestEngineOfRealReleases(t *testing.T) {
	for _, r := range releases(t) {
		if got := Engine(r.text); got != r.engine {
			t.Errorf("%s (inventory %v): Engine = %q, want %q", r.file, r.inventory, got, r.engine)
		}
	}
}

// The tutorial apps are no engine: the one with llmmon's default names (model_requests_total)
// is custom, the others nothing (Probe then scrapes them as custom, with a proposed mapping).
func TestEngineOfAppsAndOthers(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"model-tutorial", app(t, "model-tutorial.prom"), spec.EngineCustom},
		{"chatglm-tutorial", app(t, "chatglm-tutorial.prom"), ""},
		{"otel-genai", app(t, "otel-genai.prom"), ""},
		{"empty", "", ""},
		{"html", htmlPage, ""},
		{"json", jsonBody, ""},
		{"only comments", "# vllm:num_requests_running is not a HELP line\n", ""},
		// The engine with the most lines wins: a vLLM server behind a gateway that counts
		// its requests under the default names is still vLLM.
		{"majority", "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1\nmodel_requests_total 3\n", spec.EngineVLLM},
	} {
		if got := Engine(tc.body); got != tc.want {
			t.Errorf("%s: Engine = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// partialExcerpts are release files that are not whole expositions: they start in the middle of
// one, past its # HELP and # TYPE lines (test/testdata/releases/vllm-triton/SOURCES.md), which
// LooksLikePrometheusText requires.
var partialExcerpts = map[string]bool{"vllm-2025-08-pr22227-dp-engine1.prom": true}

func TestLooksLikePrometheusText(t *testing.T) {
	seen := 0
	for _, r := range releases(t) {
		if partialExcerpts[r.file] {
			seen++
			continue
		}
		if !LooksLikePrometheusText(r.text) {
			t.Errorf("%s: not recognised as Prometheus text", r.file)
		}
	}
	if seen != len(partialExcerpts) {
		t.Errorf("%d of the partial excerpts %v are in test/testdata/releases", seen, partialExcerpts)
	}
	for _, name := range []string{"model-tutorial.prom", "chatglm-tutorial.prom", "otel-genai.prom"} {
		if !LooksLikePrometheusText(app(t, name)) {
			t.Errorf("%s: not recognised as Prometheus text", name)
		}
	}
	for _, tc := range []struct {
		name, body string
		want       bool
	}{
		{"empty", "", false},
		{"blank lines", "\n  \n\t\n", false},
		{"html", htmlPage, false},
		{"indented html", "\n   <html><body># HELP x y</body></html>\n# HELP x y\n", false},
		{"json object", jsonBody, false},
		{"json array", "[\n  {\"id\": 1}\n]\n", false},
		{"text", "404 page not found\n", false},
		{"type after blank lines", "\n\n# TYPE up gauge\nup 1\n", true},
		{"help first", "# HELP up Whether the target is up.\n", true},
	} {
		if got := LooksLikePrometheusText(tc.body); got != tc.want {
			t.Errorf("%s: LooksLikePrometheusText = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// releaseOf returns the first recorded release (not an inventory) of an engine, in file order.
func releaseOf(t *testing.T, engine string) release {
	t.Helper()
	for _, r := range releases(t) {
		if r.engine == engine && !r.inventory {
			return r
		}
	}
	t.Fatalf("no recorded release of %s", engine)
	return release{}
}

// server serves paths (path -> status and body) on 127.0.0.1 until the test ends; other paths
// answer 404.
func server(t *testing.T, paths map[string]response) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok := paths[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if resp.hang {
			<-r.Context().Done() // until the client gives up
			return
		}
		w.WriteHeader(resp.code)
		_, _ = w.Write([]byte(resp.body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	code int
	body string
	hang bool
}

func body200(body string) response { return response{code: http.StatusOK, body: body} }

// closedPort returns a port of 127.0.0.1 nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	return port
}

func portOf(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("parse %s: %v", srv.URL, err)
	}
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("port of %s: %v", srv.URL, err)
	}
	return p
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name     string
		paths    map[string]response
		engine   string
		note     string // a part of the note; "" for none
		proposal bool
	}{
		{"vllm", map[string]response{"/metrics": body200(releaseOf(t, spec.EngineVLLM).text)}, spec.EngineVLLM, "", false},
		{"triton", map[string]response{"/metrics": body200(releaseOf(t, spec.EngineTriton).text)}, spec.EngineTriton, "", false},
		{"llamacpp", map[string]response{"/metrics": body200(releaseOf(t, spec.EngineLlamaCPP).text)}, spec.EngineLlamaCPP, "", false},
		{"default names", map[string]response{"/metrics": body200(app(t, "model-tutorial.prom"))}, spec.EngineCustom, "", false},
		{"own names", map[string]response{"/metrics": body200(app(t, "chatglm-tutorial.prom"))}, spec.EngineCustom,
			"serves Prometheus metrics, but none of a known engine; scraped as a custom service", true},
		{"no role", map[string]response{"/metrics": body200("# TYPE foo_bar gauge\nfoo_bar 1\n")}, spec.EngineCustom, "scraped as a custom service", false},
		{"html", map[string]response{"/metrics": body200(htmlPage), "/": body200(htmlPage)}, "", "answers HTTP 200 on", false},
		{"404", nil, "", "answers HTTP 404 on", false},
		{"llama.cpp without --metrics", map[string]response{"/metrics": {code: http.StatusNotImplemented, body: "This server does not support metrics endpoint."}},
			"", "start llama.cpp's server with --metrics", false},
		{"ollama", map[string]response{"/": body200("Ollama is running")}, spec.EngineOllama, "Ollama has no Prometheus metrics endpoint", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := server(t, tc.paths)
			f, err := Probe(t.Context(), srv.Client(), srv.URL, srv.URL+"/metrics")
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			if f.URL != srv.URL || f.Engine != tc.engine {
				t.Errorf("found %s %q, want %s %q", f.URL, f.Engine, srv.URL, tc.engine)
			}
			if (tc.note == "" && f.Note != "") || !strings.Contains(f.Note, tc.note) {
				t.Errorf("note %q, want %q", f.Note, tc.note)
			}
			if (f.Proposal != nil) != tc.proposal {
				t.Errorf("proposal %+v, want one: %v", f.Proposal, tc.proposal)
			}
		})
	}
	t.Run("closed port", func(t *testing.T) {
		base := "http://127.0.0.1:" + strconv.Itoa(closedPort(t))
		if f, err := Probe(t.Context(), http.DefaultClient, base, base+"/metrics"); err == nil {
			t.Errorf("probe of a closed port: %+v, no error", f)
		}
	})
}

// Scan probes the ports concurrently and returns what answered, in the order asked; a closed port and one
// that does not answer within the timeout are left out.
func TestScan(t *testing.T) {
	vllm := server(t, map[string]response{"/metrics": body200(releaseOf(t, spec.EngineVLLM).text)})
	sglang := server(t, map[string]response{"/metrics": body200(releaseOf(t, spec.EngineSGLang).text)})
	web := server(t, map[string]response{"/metrics": body200(htmlPage), "/": body200(htmlPage)})
	slow := server(t, map[string]response{"/metrics": {hang: true}})
	ports := []int{portOf(t, vllm), closedPort(t), portOf(t, sglang), portOf(t, slow), portOf(t, web)}

	start := time.Now()
	found := Scan(t.Context(), "127.0.0.1", ports, 500*time.Millisecond)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("scan took %v with a timeout of 500ms", d)
	}
	want := map[string]string{vllm.URL: spec.EngineVLLM, sglang.URL: spec.EngineSGLang, web.URL: ""}
	got := map[string]string{}
	for _, f := range found {
		got[f.URL] = f.Engine
	}
	if len(found) != len(want) {
		t.Fatalf("found %+v, want %v", found, want)
	}
	for u, e := range want {
		if g, ok := got[u]; !ok || g != e {
			t.Errorf("%s: found %v (engine %q), want engine %q", u, ok, g, e)
		}
	}
	// In the order of the ports asked: vLLM, SGLang, then the web page.
	if found[0].URL != vllm.URL || found[1].URL != sglang.URL || found[2].URL != web.URL {
		t.Errorf("not in the order of the ports: %+v", found)
	}
	if len(Scan(t.Context(), "127.0.0.1", nil, time.Second)) != 0 {
		t.Error("a scan of no ports found something")
	}
}

// Cases of the driver's GPU folder that TestGPUAt (gpu_test.go) does not cover.
func TestGPUAtEdges(t *testing.T) {
	info := func(model string) string { return "Model: \t\t " + model + "\nIRQ:   \t\t 150\n" }
	for _, tc := range []struct {
		name  string
		files map[string]string
		dirs  []string
		kind  int
		why   string
	}{
		{"empty gpus folder", nil, []string{"proc/driver/nvidia/gpus"}, gpuNone, "no NVIDIA GPU driver found"},
		{"empty gpus folder on WSL", map[string]string{"usr/lib/wsl/lib/nvidia-smi": "#!"}, []string{"proc/driver/nvidia/gpus"},
			gpuSMIOnly, "WSL's NVIDIA driver has no DCGM"},
		{"GeForce and TITAN", map[string]string{
			"proc/driver/nvidia/gpus/0000:01:00.0/information": info("NVIDIA GeForce RTX 3090"),
			"proc/driver/nvidia/gpus/0000:02:00.0/information": info("NVIDIA TITAN RTX"),
		}, nil, gpuSMIOnly, "dcgm-exporter does not support NVIDIA GeForce RTX 3090, NVIDIA TITAN RTX; " + gpuExporterHint},
		// A GPU whose model cannot be read is not taken for a consumer card.
		{"no information file", nil, []string{"proc/driver/nvidia/gpus/0000:83:00.0"}, gpuDCGM, "1 NVIDIA GPU(s) found"},
		{"no model line", map[string]string{"proc/driver/nvidia/gpus/0000:83:00.0/information": "IRQ: 150\n"}, nil, gpuDCGM, "1 NVIDIA GPU(s) found"},
		// The driver's GPU folder wins over WSL's nvidia-smi.
		{"GPU and WSL file", map[string]string{
			"proc/driver/nvidia/gpus/0000:83:00.0/information": info("NVIDIA A100-SXM4-80GB"),
			"usr/lib/wsl/lib/nvidia-smi":                       "#!",
		}, nil, gpuDCGM, "1 NVIDIA GPU(s) found"},
	} {
		root := t.TempDir()
		for _, d := range tc.dirs {
			if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		for p, d := range tc.files {
			write(t, filepath.Join(root, p), d)
		}
		if k, why := gpuAt(root); k != tc.kind || !strings.Contains(why, tc.why) {
			t.Errorf("%s: gpuAt = %d %q, want %d %q", tc.name, k, why, tc.kind, tc.why)
		}
	}
}
