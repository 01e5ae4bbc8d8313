package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// instance is one simulated engine: its traffic model, its metrics and its HTTP listener.
type instance struct {
	kind  string
	model string
	addr  string // where to listen; the port is fixed after the first listen
	sim   *simState
	eng   engine
	reg   *prometheus.Registry
	logf  func(format string, args ...any)

	mu   sync.Mutex
	mode string
	srv  *http.Server
}

// simulator holds every served instance and drives them.
type simulator struct {
	insts []*instance
	tick  time.Duration
	logf  func(format string, args ...any)
}

func newSimulator(cfg config, logw io.Writer) (*simulator, error) {
	lg := log.New(logw, "", log.LstdFlags)
	s := &simulator{tick: cfg.tick, logf: func(f string, a ...any) { lg.Printf("modelsim: "+f, a...) }}
	opts := engineOptions{model: cfg.model, vllmLegacy: cfg.vllmLegacy, sglangLegacy: cfg.sglangLegacy, hostname: cfg.hostname}
	for _, sv := range cfg.serves {
		reg := prometheus.NewRegistry()
		eng, err := newEngine(sv.kind, reg, opts)
		if err != nil {
			return nil, err
		}
		s.insts = append(s.insts, &instance{kind: sv.kind, model: cfg.model, addr: sv.addr, reg: reg, eng: eng, logf: s.logf,
			mode: modeHealthy, sim: newSimState(uint64(cfg.seed), sv.kind, cfg.rps, cfg.tick.Seconds())})
	}
	for _, m := range cfg.modes {
		if err := s.setModeQuiet(m.engine, m.mode); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// start opens the listeners of every instance that is not down.
func (s *simulator) start() error {
	for _, in := range s.insts {
		in.mu.Lock()
		err := in.listen(in.mode == modeDown)
		in.mu.Unlock()
		if err != nil {
			s.close()
			return err
		}
	}
	return nil
}

func (s *simulator) close() {
	for _, in := range s.insts {
		in.mu.Lock()
		in.closeListener()
		in.mu.Unlock()
	}
}

// run ticks the traffic model until ctx is done.
func (s *simulator) run(ctx context.Context) {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.stepAll()
		}
	}
}

func (s *simulator) stepAll() {
	for _, in := range s.insts {
		in.step()
	}
}

func (s *simulator) find(engine string) []*instance {
	var out []*instance
	for _, in := range s.insts {
		if engine == "" || in.kind == engine {
			out = append(out, in)
		}
	}
	return out
}

func (s *simulator) setModeQuiet(engine, mode string) error {
	if err := validMode(mode); err != nil {
		return err
	}
	insts := s.find(engine)
	if len(insts) == 0 {
		return fmt.Errorf("engine %q is not served", engine)
	}
	for _, in := range insts {
		in.mu.Lock()
		in.mode = mode
		in.mu.Unlock()
	}
	return nil
}

// setMode switches the mode of one engine (or all, with engine ""), closing or reopening listeners.
func (s *simulator) setMode(engine, mode string) error {
	if err := validMode(mode); err != nil {
		return err
	}
	insts := s.find(engine)
	if len(insts) == 0 {
		return fmt.Errorf("engine %q is not served", engine)
	}
	var errs []error
	for _, in := range insts {
		errs = append(errs, in.setMode(mode))
	}
	return errors.Join(errs...)
}

func (s *simulator) modes() map[string]string {
	out := map[string]string{}
	for _, in := range s.insts {
		in.mu.Lock()
		out[in.kind] = in.mode
		in.mu.Unlock()
	}
	return out
}

// addrs reports where each instance listens (or would listen, when down).
func (s *simulator) addrs() map[string]string {
	out := map[string]string{}
	for _, in := range s.insts {
		in.mu.Lock()
		out[in.kind] = in.addr
		in.mu.Unlock()
	}
	return out
}

func (in *instance) step() {
	in.mu.Lock()
	defer in.mu.Unlock()
	ts := in.sim.step(in.mode)
	if in.eng != nil {
		in.eng.update(ts)
	}
}

func (in *instance) setMode(mode string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	prev := in.mode
	in.mode = mode
	switch {
	case mode == modeDown && prev != modeDown:
		in.closeListener()
		in.logf("%s is down: listener on %s closed", in.kind, in.addr)
	case mode != modeDown && prev == modeDown:
		if err := in.listen(false); err != nil {
			in.mode = prev
			return err
		}
	}
	if prev != mode {
		in.logf("%s mode %s -> %s", in.kind, prev, mode)
	}
	return nil
}

// listen opens the listener (and keeps the port it got). With reserveOnly it only fixes the
// port and closes it again, for an instance that starts down.
func (in *instance) listen(reserveOnly bool) error {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again after a close
		if ln, err = net.Listen("tcp", in.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", in.kind, in.addr, err)
	}
	host, _, _ := net.SplitHostPort(in.addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	in.addr = net.JoinHostPort(host, port)
	if reserveOnly {
		return ln.Close()
	}
	in.srv = &http.Server{Handler: in.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(in.srv)
	in.logf("serving %s on %s", in.kind, ln.Addr())
	return nil
}

// closeListener closes the listener and every open connection, so that scrapes fail.
func (in *instance) closeListener() {
	if in.srv != nil {
		_ = in.srv.Close()
		in.srv = nil
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (in *instance) handler() http.Handler {
	if in.kind == "ollama" {
		return ollamaHandler(in.model)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", in.serveMetrics)
	health := func(w http.ResponseWriter, r *http.Request) {
		switch in.kind {
		case "llamacpp":
			writeJSON(w, 200, map[string]string{"status": "ok"})
		case "custom":
			writeJSON(w, 200, map[string]string{"status": "healthy"})
		case "dcgm":
			_, _ = io.WriteString(w, "OK")
		default:
			w.WriteHeader(200)
		}
	}
	mux.HandleFunc("GET /health", health)
	if in.kind == "triton" {
		mux.HandleFunc("GET /v2/health/ready", health)
		mux.HandleFunc("GET /v2/health/live", health)
	}
	if in.kind != "dcgm" {
		mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"object": "list", "data": []map[string]any{{
				"id": in.model, "object": "model", "created": 1735689600, "owned_by": in.kind, "root": in.model, "max_model_len": 8192}}})
		})
	}
	return mux
}

// serveMetrics renders the registry in the Prometheus text format 0.0.4, which is what the
// engines' own exporters (Python prometheus_client, metrics-exporter-prometheus, hand-written) serve.
func (in *instance) serveMetrics(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	mfs, err := in.reg.Gather()
	in.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return
		}
	}
}

// ollamaHandler answers like Ollama: no /metrics (404), "Ollama is running" on /.
func ollamaHandler(model string) http.Handler {
	name := strings.ToLower(model[strings.LastIndex(model, "/")+1:]) + ":latest"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, "Ollama is running")
		case r.URL.Path == "/api/version" && r.Method == http.MethodGet:
			writeJSON(w, 200, map[string]string{"version": "0.12.6"})
		case r.URL.Path == "/api/tags" && r.Method == http.MethodGet:
			writeJSON(w, 200, map[string]any{"models": []map[string]any{{"name": name, "model": name, "size": 522653767}}})
		case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
			writeJSON(w, 200, map[string]any{"object": "list", "data": []map[string]any{{"id": name, "object": "model", "created": 1735689600, "owned_by": "library"}}})
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "404 page not found")
		}
	})
}

// controlHandler is the run-time control API.
func (s *simulator) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /modes", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.modes()) })
	mux.HandleFunc("GET /engines", func(w http.ResponseWriter, r *http.Request) {
		names := make([]string, 0, len(s.insts))
		for k, a := range s.addrs() {
			names = append(names, k+"="+a)
		}
		sort.Strings(names)
		writeJSON(w, 200, names)
	})
	mux.HandleFunc("POST /mode", func(w http.ResponseWriter, r *http.Request) {
		engine, mode := r.URL.Query().Get("engine"), r.URL.Query().Get("mode")
		if err := s.setMode(engine, mode); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, s.modes())
	})
	return mux
}
