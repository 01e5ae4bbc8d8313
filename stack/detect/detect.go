// Package detect finds what runs on this host: LLM servers on their well-known ports, recognised
// by their metric names, and NVIDIA GPUs.
package detect

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/stack/spec"
)

// WellKnownPorts are the default ports of the engines llmmon probes with no spec.
var WellKnownPorts = []int{8000, 30000, 8080, 8002, 23333, 11434}

// Found is one server found by probing.
type Found struct {
	URL    string
	Engine string // an engine name, or "ollama", or "" when /metrics is not Prometheus text
	Note   string // what was seen, in one sentence
	// Proposal maps the metrics of a service of no known engine onto llmmon's roles, when its
	// names, types and HELP texts suggest one.
	Proposal *Proposal
}

// Engine recognises an engine from Prometheus text exposition, or returns "".
func Engine(metrics string) string {
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	counts := map[string]int{}
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# TYPE ") {
			l = l[7:]
		} else if strings.HasPrefix(l, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(l, "vllm:"):
			counts[spec.EngineVLLM]++
		case strings.HasPrefix(l, "sglang:"):
			counts[spec.EngineSGLang]++
		case strings.HasPrefix(l, "tgi_"):
			counts[spec.EngineTGI]++
		case strings.HasPrefix(l, "llamacpp:"):
			counts[spec.EngineLlamaCPP]++
		case strings.HasPrefix(l, "nv_inference_"), strings.HasPrefix(l, "nv_trt_llm_"):
			counts[spec.EngineTriton]++
		case strings.HasPrefix(l, "lmdeploy:"):
			counts[spec.EngineLMDeploy]++
		case strings.HasPrefix(l, "model_requests_total"), strings.HasPrefix(l, "model_request_duration_seconds"):
			counts[spec.EngineCustom]++
		}
	}
	best, n := "", 0
	for _, e := range []string{spec.EngineVLLM, spec.EngineSGLang, spec.EngineTGI, spec.EngineLlamaCPP, spec.EngineTriton, spec.EngineLMDeploy, spec.EngineCustom} {
		if counts[e] > n {
			best, n = e, counts[e]
		}
	}
	return best
}

// LooksLikePrometheusText reports whether a body is Prometheus text exposition.
func LooksLikePrometheusText(body string) bool {
	for _, l := range strings.SplitN(body, "\n", 50) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "# HELP ") || strings.HasPrefix(l, "# TYPE ") {
			return true
		}
		if strings.HasPrefix(l, "<") || strings.HasPrefix(l, "{") {
			return false
		}
	}
	return false
}

// Probe fetches metricsURL and recognises the engine. base is the server's root URL, used to
// recognise Ollama, which has no metrics endpoint.
func Probe(ctx context.Context, c *http.Client, base, metricsURL string) (Found, error) {
	f := Found{URL: base}
	body, code, err := get(ctx, c, metricsURL)
	if err != nil {
		return f, err
	}
	if code == http.StatusOK && LooksLikePrometheusText(body) {
		f.Engine = Engine(body)
		if f.Engine == "" {
			f.Note = "serves Prometheus metrics, but none of a known engine; scraped as a custom service"
			f.Engine = spec.EngineCustom
			f.Proposal = Propose(body)
			if f.Proposal != nil && f.Proposal.Standard != "" {
				f.Note = "an app with the " + f.Proposal.Standard + "; mapped by them"
			}
		}
		return f, nil
	}
	if root, rc, rerr := get(ctx, c, base+"/"); rerr == nil && rc == http.StatusOK && strings.Contains(root, "Ollama is running") {
		f.Engine = spec.EngineOllama
		f.Note = "Ollama has no Prometheus metrics endpoint; put an exporter or gateway in front of it"
		return f, nil
	}
	if code == http.StatusNotImplemented {
		f.Note = "answers 501 on /metrics: start llama.cpp's server with --metrics"
		return f, nil
	}
	f.Note = fmt.Sprintf("answers HTTP %d on %s, not Prometheus metrics (SGLang needs --enable-metrics)", code, metricsURL)
	return f, nil
}

func get(ctx context.Context, c *http.Client, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return string(b), resp.StatusCode, err
}

// Scan probes the well-known ports on host concurrently and returns what answered, in the order
// of ports (the first of an engine is named after it, later ones get -2, -3, ...).
func Scan(ctx context.Context, host string, ports []int, timeout time.Duration) []Found {
	c := &http.Client{Timeout: timeout}
	found := make([]*Found, len(ports))
	var wg sync.WaitGroup
	for i, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := fmt.Sprintf("http://%s:%d", host, p)
			if f, err := Probe(ctx, c, base, base+"/metrics"); err == nil {
				found[i] = &f
			}
		}()
	}
	wg.Wait()
	var out []Found
	for _, f := range found {
		if f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// GPU reports whether this host has an NVIDIA GPU that dcgm-exporter can watch, and why not.
func GPU() (bool, string) {
	k, why := gpuAt("/")
	return k == gpuDCGM, why
}

// NvidiaSMIOnly reports whether this host's NVIDIA GPUs are ones only nvidia-smi reads
// (GeForce or TITAN cards, WSL), for llmmon's gpu-exporter, and why.
func NvidiaSMIOnly() (bool, string) {
	k, why := gpuAt("/")
	return k == gpuSMIOnly, why
}

// What a host's GPUs are, for the exporters.
const (
	gpuNone    = iota // no NVIDIA driver
	gpuDCGM           // at least one GPU dcgm-exporter supports
	gpuSMIOnly        // GPUs dcgm-exporter does not support, or WSL
)

// gpuExporterHint is what to do where dcgm-exporter cannot run.
const gpuExporterHint = "llmmon's gpu-exporter reads them through nvidia-smi"

// gpuAt is GPU with the host's file system at root. The driver lists each GPU under
// /proc/driver/nvidia/gpus/BUS/information, with its model; dcgm-exporter supports data-center
// GPUs, not GeForce or TITAN cards, and does not run under WSL, whose driver is not there.
func gpuAt(root string) (int, string) {
	dir := filepath.Join(root, "proc", "driver", "nvidia", "gpus")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		if _, err := os.Stat(filepath.Join(root, "usr", "lib", "wsl", "lib", "nvidia-smi")); err == nil {
			return gpuSMIOnly, "WSL's NVIDIA driver has no DCGM; " + gpuExporterHint
		}
		return gpuNone, "no NVIDIA GPU driver found (/proc/driver/nvidia/gpus is absent)"
	}
	var consumer []string
	for _, e := range entries {
		info, err := os.ReadFile(filepath.Join(dir, e.Name(), "information"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(info), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || strings.TrimSpace(k) != "Model" {
				continue
			}
			model := strings.TrimSpace(v)
			if strings.Contains(model, "GeForce") || strings.Contains(model, "TITAN") {
				consumer = append(consumer, model)
			}
		}
	}
	if len(consumer) == len(entries) {
		return gpuSMIOnly, fmt.Sprintf("dcgm-exporter does not support %s; %s", strings.Join(consumer, ", "), gpuExporterHint)
	}
	return gpuDCGM, fmt.Sprintf("%d NVIDIA GPU(s) found", len(entries))
}

// Default returns the zero-config spec: this host, plus every LLM server found on the well-known
// ports of 127.0.0.1, and a list of sentences saying what was found.
func Default(ctx context.Context) (*spec.Spec, []string) {
	s, notes, _ := DefaultWithProposals(ctx)
	return s, notes
}

// DefaultWithProposals is Default, with the mapping proposed for each app of no known engine,
// by target name (the spec's targets carry none: writing one is the user's choice).
func DefaultWithProposals(ctx context.Context) (*spec.Spec, []string, map[string]*Proposal) {
	s := &spec.Spec{}
	proposals := map[string]*Proposal{}
	var notes []string
	for _, f := range Scan(ctx, "127.0.0.1", WellKnownPorts, 700*time.Millisecond) {
		switch {
		case f.Engine == spec.EngineOllama:
			notes = append(notes, fmt.Sprintf("found Ollama at %s: %s", f.URL, f.Note))
		case f.Engine != "":
			name := f.Engine
			for i := 2; hasTarget(s, name); i++ {
				name = fmt.Sprintf("%s-%d", f.Engine, i)
			}
			s.Targets = append(s.Targets, spec.Target{Name: name, Engine: f.Engine, URL: f.URL})
			if f.Proposal != nil {
				proposals[name] = f.Proposal
			}
			msg := fmt.Sprintf("found %s at %s", f.Engine, f.URL)
			if f.Note != "" {
				msg += " (" + f.Note + ")"
			}
			notes = append(notes, msg)
		default:
			notes = append(notes, fmt.Sprintf("%s answers but %s", f.URL, f.Note))
		}
	}
	if len(s.Targets) == 0 {
		ports := make([]string, len(WellKnownPorts))
		for i, p := range WellKnownPorts {
			ports[i] = strconv.Itoa(p)
		}
		notes = append(notes, "no LLM server found on 127.0.0.1 ports "+strings.Join(ports, ", ")+"; watching the host only (add one with `llmmon add-target NAME URL`)")
	}
	return s, notes, proposals
}

func hasTarget(s *spec.Spec, name string) bool {
	for _, t := range s.Targets {
		if t.Name == name {
			return true
		}
	}
	return false
}
