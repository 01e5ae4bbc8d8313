package stack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// endpoint is one of the stack's HTTP APIs as llmmon reaches it, with the credentials it needs.
type endpoint struct {
	component string
	base      string // http://host:port
	user      string // basic auth (Prometheus, Alertmanager, Grafana)
	password  string
	token     string // bearer token (the relay)
}

// URL is the address of a path of the API.
func (p endpoint) URL(path string) string { return p.base + path }

// endpoints are the stack's HTTP APIs: the one place where their addresses (from
// render.Components) and the stack's credentials are put together.
type endpoints struct {
	byName map[string]endpoint
}

// newEndpoints returns the stack's APIs. c may be nil (no credentials yet): calls then carry
// none, and Prometheus, Alertmanager and the relay refuse them.
func newEndpoints(s *spec.Spec, c *Credentials, grafanaPW string) endpoints {
	es := endpoints{byName: map[string]endpoint{}}
	for _, comp := range render.Components(s, render.Options{Relay: true, GPU: true, GPUExporter: true}) {
		p := endpoint{component: comp.Name, base: "http://" + comp.Addr}
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
	return es
}

// anonymous is the endpoint without its credentials: for asking whatever holds a port that is not
// ours, which must never see the stack's secrets.
func (p endpoint) anonymous() endpoint {
	return endpoint{component: p.component, base: p.base}
}

// of returns a component's API (an empty base for a component the stack does not have).
func (es endpoints) of(component string) endpoint { return es.byName[component] }

func (es endpoints) prom() endpoint  { return es.of("prometheus") }
func (es endpoints) am() endpoint    { return es.of("alertmanager") }
func (es endpoints) relay() endpoint { return es.of("relay") }

// endpointsFor reads the stack's credentials (never creating them) and returns its APIs; the
// error is ErrNoCredentials when the stack was never started by this llmmon.
func endpointsFor(s *spec.Spec) (endpoints, error) {
	gpw, _, _ := readGrafanaPassword(s)
	c, err := ReadCredentials(s)
	if err != nil {
		return newEndpoints(s, nil, gpw), err
	}
	return newEndpoints(s, c, gpw), nil
}

// call sends one request to an API with its credentials and returns the status and body
// (at most 4 MiB).
func (e *Engine) call(ctx context.Context, p endpoint, method, path string, body []byte, contentType string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.URL(path), rd)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	switch {
	case p.token != "":
		req.Header.Set("Authorization", "Bearer "+p.token)
	case p.user != "":
		req.SetBasicAuth(p.user, p.password)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

// get is call with GET.
func (e *Engine) get(ctx context.Context, p endpoint, path string) (int, []byte, error) {
	return e.call(ctx, p, http.MethodGet, path, nil, "")
}

// getOK is get that wants HTTP 200; other answers are errors worded for users.
func (e *Engine) getOK(ctx context.Context, p endpoint, path string) ([]byte, error) {
	code, b, err := e.get(ctx, p, path)
	if err != nil {
		return nil, fmt.Errorf("%s does not answer at %s: %s", p.component, p.base, shortErr(err))
	}
	if code == http.StatusUnauthorized {
		return nil, fmt.Errorf("%s at %s refuses the stack's credentials (HTTP 401)", p.component, p.base)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s at %s answers HTTP %d", p.component, p.base, code)
	}
	return b, nil
}
