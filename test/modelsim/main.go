// Command modelsim simulates the Prometheus metrics of LLM inference servers, for llmmon's
// end-to-end tests and `make demo`. No model runs: a traffic loop ticking every 250ms makes
// requests arrive (Poisson-like around --rps, ±30% jitter, occasional bursts) and finish, and
// each served engine exposes what that happened as its real exporter would: the same metric
// names, types, labels, HELP strings and histogram buckets, in the Prometheus text format.
//
// Engines (each on its own listener): vllm (V1 names; --vllm-legacy serves the pre-0.11 names
// vllm:gpu_cache_usage_perc and vllm:time_per_output_token_seconds instead), sglang
// (--sglang-legacy serves older releases' per-request sglang:time_per_output_token_seconds
// instead of sglang:inter_token_latency_seconds), tgi, llamacpp, triton (Triton core
// nv_inference_* and nv_gpu_* plus the TensorRT-LLM backend's nv_trt_llm_*), lmdeploy, custom (a
// prometheus_client app: model_requests_total{model,status}, model_request_duration_seconds,
// model_tokens_per_second, gpu_memory_used_mb, cpu_usage_percent, memory_usage_mb), dcgm
// (dcgm-exporter's default counters for two GPUs) and ollama (no /metrics at all: GET / answers
// "Ollama is running").
//
// Every engine but ollama serves GET /metrics, GET /health and (LLM engines) GET /v1/models.
//
// Modes, global or per engine and switchable at run time:
//
//	healthy          normal traffic; KV-cache usage 0.2-0.6
//	down             the listener and all its connections are closed: scrapes get "connection refused"
//	error-burst      ~30% of requests fail (vLLM finished_reason="error", SGLang aborted, TGI
//	                 tgi_request_failure{err="generation"}, Triton failure{reason="BACKEND"}, LMDeploy
//	                 ResponseType.INTERNAL_ENGINE_ERROR, custom status="error"; llama.cpp has no error metric)
//	latency-spike    TTFT and inter-token latency 10-20x (TTFT p95 > 5s)
//	queue-growth     the waiting queue grows by ~2 per tick, up to 500
//	kv-full          KV-cache usage 0.97-0.995; preemptions (SGLang retractions) increase
//	gpu-mem-full     dcgm FB_USED at 97% of the framebuffer; custom gpu_memory_used_mb and Triton
//	                 nv_gpu_memory_used_bytes near capacity
//	throughput-drop  request and token rates fall to ~2% of normal (never to zero); GPU util low
//	gpu-xid          dcgm DCGM_FI_DEV_XID_ERRORS = 79 on GPU 0, with err_code/err_msg labels
//	gpu-hot          dcgm GPU temperature 92C
//
// Usage:
//
//	modelsim --serve vllm=:8000 --serve sglang=:30000 --serve dcgm=:9400 \
//	    --mode healthy --model Qwen/Qwen3-0.6B --rps 5 --seed 1 --control 0.0.0.0:9999
//
// --serve ENGINE[=ADDR] (repeatable or comma-separated; without ADDR the engine's default port),
// --mode MODE or ENGINE=MODE (repeatable or comma-separated, applied in order), --model, --rps,
// --seed, --control ADDR ("off" disables it), --vllm-legacy, --sglang-legacy, --tick, --hostname
// (dcgm's Hostname label). Every flag can also be set with an environment variable
// MODELSIM_<FLAG> (for example MODELSIM_SERVE="vllm=:8000,dcgm=:9400",
// MODELSIM_MODE="healthy,vllm=error-burst"); a flag on the command line wins over the environment.
//
// Control API (on --control): GET /modes (current mode per engine, JSON), POST
// /mode?engine=vllm&mode=error-burst (engine optional: all engines), GET /engines, GET /healthz.
//
// --replay FILE=ADDR (repeatable) serves a real server's recorded /metrics output, or the
// exposition a release's inventory from source describes (test/testdata/releases), on ADDR, with
// its counters and histograms growing so that rates and quantiles have data (package replay).
// modelsim --replay test/testdata/releases/vllm-triton/vllm-0.10.0.prom=:8000 serves vLLM 0.10.0
// as that server printed it; --serve may then be left out.
//
// Given --seed, the simulated traffic is deterministic, except for timing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmmon/llmmon/test/modelsim/replay"
)

// defaultPorts are the engines' own default ports.
var defaultPorts = map[string]string{
	"vllm": ":8000", "sglang": ":30000", "tgi": ":3000", "llamacpp": ":8080", "triton": ":8002",
	"lmdeploy": ":23333", "custom": ":8001", "dcgm": ":9400", "ollama": ":11434",
}

type serveSpec struct{ kind, addr string }
type replaySpec struct{ file, addr string }
type modeSpec struct{ engine, mode string }

type config struct {
	serves       []serveSpec
	replays      []replaySpec
	modes        []modeSpec
	model        string
	rps          float64
	seed         int64
	control      string
	vllmLegacy   bool
	sglangLegacy bool
	tick         time.Duration
	hostname     string
	// exitAfter makes the process exit with status 1 after this long: a service that keeps
	// dying, for auto-recovery's tests.
	exitAfter time.Duration
}

// listFlag collects repeatable, comma- or space-separated values.
type listFlag struct{ vals *[]string }

func (l listFlag) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l listFlag) Set(v string) error {
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		*l.vals = append(*l.vals, p)
	}
	return nil
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	var serves, modes, replays []string
	fs := flag.NewFlagSet("modelsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(listFlag{&serves}, "serve", "`ENGINE[=ADDR]` to serve (repeatable, comma-separated); engines: "+strings.Join(engineKinds, ", "))
	fs.Var(listFlag{&modes}, "mode", "`MODE` for all engines or ENGINE=MODE (repeatable, comma-separated); modes: "+strings.Join(allModes, ", "))
	fs.Var(listFlag{&replays}, "replay", "`FILE=ADDR`: serve a recorded /metrics file or a release inventory on ADDR (repeatable)")
	fs.StringVar(&cfg.model, "model", "Qwen/Qwen3-0.6B", "served model name (the model_name/model label)")
	fs.Float64Var(&cfg.rps, "rps", 5, "mean request rate per engine, requests/s")
	fs.Int64Var(&cfg.seed, "seed", 1, "random seed")
	fs.StringVar(&cfg.control, "control", "127.0.0.1:9999", "control API listen address, or off")
	fs.BoolVar(&cfg.vllmLegacy, "vllm-legacy", false, "vllm: serve the old names gpu_cache_usage_perc and time_per_output_token_seconds")
	fs.BoolVar(&cfg.sglangLegacy, "sglang-legacy", false, "sglang: serve the old per-request time_per_output_token_seconds instead of inter_token_latency_seconds")
	fs.DurationVar(&cfg.tick, "tick", 250*time.Millisecond, "simulation tick")
	fs.DurationVar(&cfg.exitAfter, "exit-after", 0, "exit with status 1 after this long, as a crashing service does (0: never)")
	host, _ := os.Hostname()
	fs.StringVar(&cfg.hostname, "hostname", host, "Hostname label of the dcgm series")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: modelsim --serve ENGINE[=ADDR] ... [--mode MODE|ENGINE=MODE ...] [flags]\nEvery flag can also be set with MODELSIM_<FLAG> (e.g. MODELSIM_SERVE).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := "MODELSIM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !set[f.Name] {
			if err := fs.Set(f.Name, v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %v", env, v, err)
			}
		}
	})
	if envErr != nil {
		return cfg, envErr
	}

	for _, r := range replays {
		file, addr, ok := strings.Cut(r, "=")
		if !ok || file == "" || addr == "" {
			return cfg, fmt.Errorf("--replay %q: want FILE=ADDR", r)
		}
		cfg.replays = append(cfg.replays, replaySpec{file, addr})
	}
	if len(serves) == 0 && len(cfg.replays) == 0 {
		return cfg, errors.New("nothing to serve: give --serve ENGINE[=ADDR] (or MODELSIM_SERVE) or --replay FILE=ADDR")
	}
	for _, s := range serves {
		kind, addr, hasAddr := strings.Cut(s, "=")
		if !slices.Contains(engineKinds, kind) {
			return cfg, fmt.Errorf("--serve %q: unknown engine %q (engines: %s)", s, kind, strings.Join(engineKinds, ", "))
		}
		if !hasAddr || addr == "" {
			addr = defaultPorts[kind]
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			if _, perr := strconv.Atoi(addr); perr != nil {
				return cfg, fmt.Errorf("--serve %q: address %q is not host:port or :port", s, addr)
			}
			addr = ":" + addr
		} else if _, err := strconv.Atoi(port); err != nil {
			return cfg, fmt.Errorf("--serve %q: bad port %q", s, port)
		}
		for _, o := range cfg.serves {
			if o.kind == kind {
				return cfg, fmt.Errorf("--serve: engine %q given twice (run a second modelsim for a second instance)", kind)
			}
		}
		cfg.serves = append(cfg.serves, serveSpec{kind, addr})
	}
	for _, m := range modes {
		engine, mode, perEngine := strings.Cut(m, "=")
		if !perEngine {
			engine, mode = "", m
		} else if !slices.ContainsFunc(cfg.serves, func(s serveSpec) bool { return s.kind == engine }) {
			return cfg, fmt.Errorf("--mode %q: engine %q is not served", m, engine)
		}
		if err := validMode(mode); err != nil {
			return cfg, fmt.Errorf("--mode %q: %v", m, err)
		}
		cfg.modes = append(cfg.modes, modeSpec{engine, mode})
	}
	if !(cfg.rps > 0) || cfg.rps > 10000 {
		return cfg, fmt.Errorf("--rps %v: must be > 0 and <= 10000", cfg.rps)
	}
	if cfg.tick < 10*time.Millisecond {
		return cfg, fmt.Errorf("--tick %v: must be at least 10ms", cfg.tick)
	}
	if cfg.model == "" {
		return cfg, errors.New("--model must not be empty")
	}
	if cfg.hostname == "" {
		cfg.hostname = "localhost"
	}
	return cfg, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "modelsim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.exitAfter > 0 {
		time.AfterFunc(cfg.exitAfter, func() {
			fmt.Fprintf(os.Stderr, "modelsim: exiting after %s, as asked (--exit-after)\n", cfg.exitAfter)
			os.Exit(1)
		})
	}
	for _, r := range cfg.replays {
		if err := serveReplay(r); err != nil {
			fmt.Fprintln(os.Stderr, "modelsim:", err)
			os.Exit(2)
		}
	}
	if len(cfg.serves) == 0 {
		<-ctx.Done()
		return
	}
	sim, err := newSimulator(cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "modelsim:", err)
		os.Exit(2)
	}
	if err := sim.start(); err != nil {
		fmt.Fprintln(os.Stderr, "modelsim:", err)
		os.Exit(1)
	}
	if cfg.control != "" && cfg.control != "off" {
		ln, err := net.Listen("tcp", cfg.control)
		if err != nil {
			fmt.Fprintln(os.Stderr, "modelsim: control API:", err)
			os.Exit(1)
		}
		sim.logf("control API on %s", ln.Addr())
		go func() {
			_ = (&http.Server{Handler: sim.controlHandler(), ReadHeaderTimeout: 10 * time.Second}).Serve(ln)
		}()
	}
	sim.run(ctx)
	sim.close()
}

// serveReplay serves one recorded or inventoried exposition on its address.
func serveReplay(r replaySpec) error {
	data, err := os.ReadFile(r.file)
	if err != nil {
		return fmt.Errorf("--replay: %w", err)
	}
	e, err := replay.Parse(r.file, data)
	if err != nil {
		return fmt.Errorf("--replay: %w", err)
	}
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return fmt.Errorf("--replay %s: %w", r.file, err)
	}
	fmt.Fprintf(os.Stderr, "modelsim: replaying %s (%d families) on %s\n", r.file, len(e.Families()), ln.Addr())
	go func() { _ = (&http.Server{Handler: e.Handler(), ReadHeaderTimeout: 10 * time.Second}).Serve(ln) }()
	return nil
}
