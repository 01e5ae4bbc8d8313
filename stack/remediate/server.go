package remediate

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/llmmon/llmmon/internal/httpserve"
	"github.com/llmmon/llmmon/stack/runtime"
)

type metrics struct {
	reg     *prometheus.Registry
	actions *prometheus.CounterVec
	failed  *prometheus.CounterVec
	webhook *prometheus.CounterVec
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_remediation_actions_total",
			Help: "Decisions of the remediation agent, by target, kind (restart or command) and result (healthy, unhealthy, failed, limit, skipped, dry-run)."}, []string{"target", "kind", "result"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_remediation_gave_up_total",
			Help: "Times auto-recovery gave up and asked for a person, by target and reason."}, []string{"target", "reason"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "llmmon_remediation_webhooks_total",
			Help: "Webhook requests from Alertmanager, by outcome."}, []string{"outcome"}),
	}
	for _, t := range a.cfg.Targets {
		m.actions.WithLabelValues(t.Name, kind(&t), ResultHealthy)
	}
	m.reg.MustRegister(m.actions, m.failed, m.webhook, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves Alertmanager's webhook (POST /v1/alerts), the status (GET /api/v1/status),
// /metrics and /-/ready. All but the last two need the token.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ready\n") })
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{}))
	mux.Handle("POST /v1/alerts", a.authorized(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var msg struct {
			Alerts []WebhookAlert `json:"alerts"`
		}
		if err := json.NewDecoder(io.LimitReader(req.Body, 8<<20)).Decode(&msg); err != nil {
			a.metrics.webhook.WithLabelValues("bad request").Inc()
			http.Error(w, "not an Alertmanager webhook payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		n, err := a.Receive(msg.Alerts)
		if err != nil {
			// 5xx: Alertmanager retries, and nothing was acted on.
			a.metrics.webhook.WithLabelValues("error").Inc()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a.metrics.webhook.WithLabelValues("ok").Inc()
		fmt.Fprintf(w, "%d queued\n", n)
	})))
	mux.Handle("GET /api/v1/status", a.authorized(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(struct {
			Targets []TargetStatus `json:"targets"`
			Actions []Action       `json:"actions"`
		}{a.Status(), a.Actions()})
	})))
	return mux
}

func (a *Agent) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		got, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok || a.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.Token)) != 1 {
			a.metrics.webhook.WithLabelValues("unauthorized").Inc()
			http.Error(w, "unauthorized: the remediation agent accepts only its stack's Alertmanager and llmmon", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// httpHealthy: the service's metrics endpoint answers 200 within 5 s.
func httpHealthy(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// AlertmanagerPoster posts alerts to Alertmanager's v2 API with basic auth.
type AlertmanagerPoster struct {
	URL, User, Password string
	Client              *http.Client
}

// PostAlerts sends alerts; Alertmanager routes them like any other.
func (p AlertmanagerPoster) PostAlerts(ctx context.Context, alerts []PostableAlert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.URL, "/")+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.User != "" {
		req.SetBasicAuth(p.User, p.Password)
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post alerts to Alertmanager: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("post alerts to Alertmanager: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

// DockerRestarter restarts containers through llmmon's Docker runtime.
type DockerRestarter struct{ RT runtime.Runtime }

// ContainerName returns the name of the container Docker resolves ref to.
func (d DockerRestarter) ContainerName(ctx context.Context, ref string) (string, error) {
	c, err := d.RT.InspectContainer(ctx, ref)
	if errors.Is(err, runtime.ErrNotFound) {
		return "", fmt.Errorf("no container is named %s: check targets[].remediation.container in the spec", ref)
	}
	if err != nil {
		return "", err
	}
	return c.Name, nil
}

// Restart restarts the named container.
func (d DockerRestarter) Restart(ctx context.Context, name string) error {
	return d.RT.RestartContainer(ctx, name)
}

// Serve runs an agent on listen until ctx ends.
func Serve(ctx context.Context, cfg *Config, docker Restarter, opts ...Option) error {
	a, err := New(cfg, docker, AlertmanagerPoster{URL: cfg.AlertmanagerURL, User: cfg.AlertmanagerUser, Password: cfg.AlertmanagerPass}, opts...)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("the remediation agent cannot listen on %s (%w); stop what holds the port or change internal_ports.remediation in the spec", cfg.Listen, err)
	}
	a.log.Info("remediation agent listening", "addr", cfg.Listen, "targets", len(cfg.Targets))
	return httpserve.Run(ctx, l, a.Handler(), a.Run)
}
