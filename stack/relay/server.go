package relay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

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
func (r *Relay) Handler(configPath string) http.Handler {
	mux := http.NewServeMux()
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
	mux.Handle("GET /metrics", promhttp.HandlerFor(r.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, r.Status())
	})
	mux.HandleFunc("GET /api/v1/tests/{id}", func(w http.ResponseWriter, req *http.Request) {
		writeJSON(w, r.TestResults(req.PathValue("id")))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
