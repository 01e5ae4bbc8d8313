package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// The running stack's HTTP APIs, as llmmon talks to them.
//
// endpoints is the one place where the addresses of the stack's components (from
// render.Components) meet the stack's credentials and the engine's HTTP client. A command builds
// it once (endpointsFor; up builds it from the credentials it ensures) and passes it down, so the
// secret files are read once per command, never once per poll. Every request to the stack goes
// through endpoint.send, which adds the credentials, bounds the call by its timeout and reads at
// most maxAnswer bytes of the answer.
//
// On top of it sit the typed clients: Prometheus through client_golang's api/prometheus/v1
// (promapi.go), Alertmanager, Grafana and the relay through a few typed methods each (amapi.go,
// grafana.go, relayapi.go).

// callTimeout bounds one call to the stack's APIs, unless the call says otherwise (within): the
// stack runs on this host, and a component that takes longer is not well.
const callTimeout = 3 * time.Second

// maxAnswer is the most of an answer that is read.
const maxAnswer = 4 << 20

// endpoint is one of the stack's HTTP APIs as llmmon reaches it, with the credentials it needs.
type endpoint struct {
	hc        *http.Client
	component string
	base      string // http://host:port
	user      string // basic auth (Prometheus, Alertmanager, Grafana)
	password  string
	token     string        // bearer token (the relay)
	timeout   time.Duration // of one call; callTimeout when zero
}

// URL is the address of a path of the API.
func (p endpoint) URL(path string) string { return p.base + path }

// anonymous is the endpoint without its credentials: for asking whatever holds a port that is not
// ours, which must never see the stack's secrets.
func (p endpoint) anonymous() endpoint {
	p.user, p.password, p.token = "", "", ""
	return p
}

// within is the endpoint whose calls may take d each (a caller's context may still end them
// sooner).
func (p endpoint) within(d time.Duration) endpoint {
	p.timeout = d
	return p
}

// endpoints are the stack's HTTP APIs, by component.
type endpoints struct {
	hc     *http.Client
	byName map[string]endpoint
}

// newEndpoints returns the stack's APIs, reached with the engine's HTTP client. c may be nil (no
// credentials yet): calls then carry none, and Prometheus, Alertmanager and the relay refuse them.
// grafanaPW is Grafana's admin password ("" when unknown).
func (e *Engine) newEndpoints(s *spec.Spec, c *Credentials, grafanaPW string) endpoints {
	es := endpoints{hc: e.http, byName: map[string]endpoint{}}
	for _, comp := range render.Components(s, render.Options{Relay: true, GPU: true, GPUExporter: true}) {
		p := endpoint{hc: e.http, component: comp.Name, base: "http://" + comp.Addr}
		switch comp.Auth {
		case render.AuthStack:
			if c != nil {
				p.user, p.password = APIUser, c.APIPassword
			}
		case render.AuthToken:
			if c != nil {
				p.token = c.RelayToken
			}
		case render.AuthGrafanaAdmin:
			p.user, p.password = s.Grafana.AdminUser, grafanaPW
		}
		es.byName[comp.Name] = p
	}
	if _, ok := es.byName["remediation"]; !ok && len(s.Remediated()) > 0 {
		// The agent on the host (remediation_agent: host) answers at the same address.
		p := endpoint{hc: e.http, component: "remediation", base: fmt.Sprintf("http://127.0.0.1:%d", s.InternalPorts.Remediation)}
		if c != nil {
			p.token = c.RelayToken
		}
		es.byName["remediation"] = p
	}
	return es
}

// endpointsFor reads the stack's credentials, never creating them, and returns its APIs; the
// error is ErrNoCredentials when the stack was never started by this llmmon (the APIs are then
// still returned, with Grafana's password if it is known, and without the others').
func (e *Engine) endpointsFor(s *spec.Spec) (endpoints, error) {
	gpw, _, _ := readGrafanaPassword(s)
	c, err := ReadCredentials(s)
	if err != nil {
		return e.newEndpoints(s, nil, gpw), err
	}
	return e.newEndpoints(s, c, gpw), nil
}

// of returns a component's API; a component the stack does not have has no address, and calls
// to it fail.
func (es endpoints) of(component string) endpoint {
	if p, ok := es.byName[component]; ok {
		return p
	}
	return endpoint{hc: es.hc, component: component}
}

func (es endpoints) prom() promAPI       { return newPromAPI(es.of("prometheus")) }
func (es endpoints) am() amAPI           { return amAPI{es.of("alertmanager")} }
func (es endpoints) grafana() grafanaAPI { return grafanaAPI{es.of("grafana")} }
func (es endpoints) relay() relayAPI     { return relayAPI{es.of("relay")} }

// remediation is the remediation agent's API.
func (es endpoints) remediation() remediationAPI { return remediationAPI{es.of("remediation")} }

// send sends one request to the API with its credentials, within the endpoint's timeout, and
// returns the answer with its body (at most maxAnswer bytes; the response's own body is closed).
// Only a request that got no answer is an error: every HTTP status is the caller's to judge.
func (p endpoint) send(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	if p.base == "" {
		return nil, nil, fmt.Errorf("the stack has no %s", p.component)
	}
	timeout := p.timeout
	if timeout <= 0 {
		timeout = callTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req = req.WithContext(ctx)
	switch {
	case p.token != "":
		req.Header.Set("Authorization", "Bearer "+p.token)
	case p.user != "":
		req.SetBasicAuth(p.user, p.password)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	return resp, b, err
}

// call sends one request to a path of the API (body, when not nil, of the given content type)
// and returns the status and body.
func (p endpoint) call(ctx context.Context, method, path string, body []byte, contentType string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, p.URL(path), rd)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, b, err := p.send(ctx, req)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// get is call with GET.
func (p endpoint) get(ctx context.Context, path string) (int, []byte, error) {
	return p.call(ctx, http.MethodGet, path, nil, "")
}

// getOK is get that wants HTTP 200; a request without an answer is an *unreachableError, another
// status a *statusError.
func (p endpoint) getOK(ctx context.Context, path string) ([]byte, error) {
	code, b, err := p.get(ctx, path)
	if err != nil {
		return nil, p.unreachable(err)
	}
	if code != http.StatusOK {
		return nil, p.status(path, code)
	}
	return b, nil
}

// getJSON is getOK that decodes the JSON answer into v.
func (p endpoint) getJSON(ctx context.Context, path string, v any) error {
	b, err := p.getOK(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s at %s answered something unreadable to %s: %w", p.component, p.base, path, err)
	}
	return nil
}

// unreachableError: a request to one of the stack's APIs got no answer.
type unreachableError struct {
	component, base string
	err             error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("%s does not answer at %s: %s", e.component, e.base, shortErr(e.err))
}

func (e *unreachableError) Unwrap() error { return e.err }

func (p endpoint) unreachable(err error) error {
	return &unreachableError{component: p.component, base: p.base, err: err}
}

// statusError: one of the stack's APIs answered another status than the call wants.
type statusError struct {
	component, base, path string
	code                  int
}

func (e *statusError) Error() string {
	if e.refused() {
		return fmt.Sprintf("%s at %s refuses the stack's credentials (HTTP %d)", e.component, e.base, e.code)
	}
	return fmt.Sprintf("%s at %s answers HTTP %d to %s", e.component, e.base, e.code, e.path)
}

// refused says that what answers would not take the stack's credentials: it is not the stack's.
func (e *statusError) refused() bool {
	return e.code == http.StatusUnauthorized || e.code == http.StatusForbidden
}

func (p endpoint) status(path string, code int) error {
	return &statusError{component: p.component, base: p.base, path: path, code: code}
}
