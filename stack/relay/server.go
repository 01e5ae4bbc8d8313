package relay

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the relay's HTTP API:
//
//	POST /v1/notify/{receiver}  Alertmanager's webhook notifications
//	GET  /-/ready, /-/healthy   readiness and liveness
//	POST /-/reload              re-read the configuration file (configPath)
//	GET  /metrics               Prometheus metrics
//	GET  /api/v1/status         every receiver's queue and last error
//	GET  /api/v1/tests/{id}     the outcome of a test alert, per receiver
//
// Every path but /metrics, /-/ready and /-/healthy (read-only, and free of secrets) answers
// 401 unless the request carries the configuration's token (Authorization: Bearer TOKEN).
func (r *Relay) Handler(configPath string) http.Handler {
	mux := http.NewServeMux()
	open := http.NewServeMux()
	r.routes(mux, configPath)
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.metrics.reg, promhttp.HandlerOpts{}))
	open.Handle("GET /metrics", mux)
	open.Handle("GET /-/ready", mux)
	open.Handle("GET /-/healthy", mux)
	open.Handle("/", r.authorized(mux))
	return open
}

// authorized passes on only requests that carry the token, compared in constant time.
func (r *Relay) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		want := r.cfg.Token
		r.mu.Unlock()
		got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			r.metrics.unauthorized.Inc()
			w.Header().Set("WWW-Authenticate", `Bearer realm="llmmon-relay"`)
			http.Error(w, "unauthorized: this relay accepts only its stack's Alertmanager and llmmon", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (r *Relay) routes(mux *http.ServeMux, configPath string) {
	mux.HandleFunc("POST /v1/notify/{receiver}", func(w http.ResponseWriter, req *http.Request) {
		var n Notification
		if err := json.NewDecoder(io.LimitReader(req.Body, 32<<20)).Decode(&n); err != nil {
			http.Error(w, "bad notification: "+err.Error(), http.StatusBadRequest)
			return
		}
		name := req.PathValue("receiver")
		switch err := r.Enqueue(name, &n); {
		case errors.Is(err, ErrUnknownReceiver):
			r.log.Warn("notification for an unknown receiver", "receiver", name)
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			// Alertmanager retries on 5xx, so nothing is lost.
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !r.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := r.Reload(configPath); err != nil {
			r.log.Error("reload failed; keeping the previous configuration", "error", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.log.Info("configuration reloaded")
		io.WriteString(w, "reloaded\n")
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.Status())
	})
	mux.HandleFunc("POST /v1/report/send", func(w http.ResponseWriter, req *http.Request) {
		res, err := r.SendReport(req.Context(), r.now().Truncate(time.Second))
		switch {
		case errors.Is(err, ErrNoReport):
			http.Error(w, err.Error(), http.StatusNotFound)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(reportResultsStatus(res))
			_ = json.NewEncoder(w).Encode(res)
		}
	})
	mux.HandleFunc("GET /api/v1/tests/{id}", func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, r.TestResults(req.PathValue("id")))
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
