// Package stack is llmmon's engine: from a spec to files, containers and health. It never prints
// and never exits; the command line in cmd/ is a thin shell around it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// Engine runs llmmon's verbs.
type Engine struct {
	assets  render.Assets
	rt      runtime.Runtime
	log     *slog.Logger
	version string
	gpu     func() (bool, string)
	smiOnly func() (bool, string)
	http    *http.Client
	binary  string
}

// Option configures an Engine.
type Option func(*Engine)

// WithRuntime sets the container runtime (needed by up, down and status).
func WithRuntime(rt runtime.Runtime) Option { return func(e *Engine) { e.rt = rt } }

// WithLogger sets the logger for progress and debug messages.
func WithLogger(l *slog.Logger) Option { return func(e *Engine) { e.log = l } }

// WithVersion sets the llmmon version recorded in labels.
func WithVersion(v string) Option { return func(e *Engine) { e.version = v } }

// WithGPUDetector replaces the host GPU detector (for tests).
func WithGPUDetector(f func() (bool, string)) Option { return func(e *Engine) { e.gpu = f } }

// WithNvidiaSMIDetector replaces the detector of GPUs only nvidia-smi reads (for tests).
func WithNvidiaSMIDetector(f func() (bool, string)) Option { return func(e *Engine) { e.smiOnly = f } }

// WithHTTPClient replaces the client of every call to the stack's APIs and of the probes of
// targets (for tests). It needs no Timeout: each call is bounded by its context (callTimeout,
// grafanaReloadTimeout, probeTimeout).
func WithHTTPClient(c *http.Client) Option { return func(e *Engine) { e.http = c } }

// probeTimeout bounds the probe of a target (its /metrics, then its root page).
const probeTimeout = 5 * time.Second

// WithSelfBinary sets the llmmon executable the relay image is built from (default: the
// running executable).
func WithSelfBinary(path string) Option { return func(e *Engine) { e.binary = path } }

// New returns an engine over the given assets.
func New(assets render.Assets, opts ...Option) *Engine {
	e := &Engine{assets: assets, log: slog.New(slog.DiscardHandler), version: "dev", gpu: detect.GPU, smiOnly: detect.NvidiaSMIOnly, http: &http.Client{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// RenderOptions control Render.
type RenderOptions struct {
	// Offline skips probing targets whose engine is auto (they are scraped as "unknown").
	Offline bool
	// Credentials go into the bundle; when nil, the data directory's are read (never created),
	// or, when it has none, fresh ones are made for this bundle alone.
	Credentials *Credentials
	// NvidiaRuntime says whether Docker has the NVIDIA runtime, which the GPU exporters need;
	// nil when unknown (a bundle rendered without a daemon), taken as present.
	NvidiaRuntime *bool
}

// Rendered is the result of Render.
type Rendered struct {
	Bundle *render.Bundle
	GPU    bool
	// GPUExporter: llmmon's nvidia-smi exporter runs (gpu: auto on GPUs dcgm-exporter does
	// not support).
	GPUExporter bool
	// Notes are sentences for the user: engines recognised, components skipped and why.
	Notes []string
}

// Render resolves what the spec leaves open (auto engines, gpu: auto), renders the bundle and
// checks it with the upstream parsers. A bundle that fails the check is an error: llmmon never
// starts a stack on files Prometheus or Alertmanager would refuse.
func (e *Engine) Render(ctx context.Context, s *spec.Spec, o RenderOptions) (*Rendered, error) {
	res := &Rendered{}
	s = e.resolveEngines(ctx, s, o, res)
	switch {
	case s.DCGMExporterAddress != "":
		res.Notes = append(res.Notes, "GPU metrics come from the dcgm-exporter at "+s.DCGMExporterAddress)
	case s.NvidiaSmiExporterAddress != "":
		res.Notes = append(res.Notes, "GPU metrics come from the nvidia-smi exporter at "+s.NvidiaSmiExporterAddress)
	case s.GPU == "on":
		res.GPU = true
	case s.GPU == "auto":
		runtime := o.NvidiaRuntime == nil || *o.NvidiaRuntime
		ok, why := e.gpu()
		smi, smiWhy := false, ""
		if !ok {
			smi, smiWhy = e.smiOnly()
		}
		switch {
		case ok && runtime:
			res.GPU = true
		case ok:
			res.Notes = append(res.Notes, "dcgm-exporter skipped: an NVIDIA GPU is present but Docker has no NVIDIA runtime (install the NVIDIA Container Toolkit)")
		case smi && runtime:
			res.GPUExporter = true
			res.Notes = append(res.Notes, "GPU metrics from llmmon's gpu-exporter: "+smiWhy)
		case smi:
			res.Notes = append(res.Notes, "GPU exporter skipped: "+smiWhy+", but Docker has no NVIDIA runtime; install the NVIDIA Container Toolkit, or run `llmmon gpu-exporter` on the host and set nvidia_smi_exporter_address: 127.0.0.1:9835")
		default:
			res.Notes = append(res.Notes, "dcgm-exporter skipped: "+why+" (set gpu: on to force it)")
		}
	}
	if f := s.Fleet; f != nil && f.Role == spec.RoleAgent {
		res.Notes = append(res.Notes, fmt.Sprintf("agent %s: its samples go to %s; alerts, dashboards and notifications are the central stack's", f.HostName, f.Central))
	}
	if len(s.Notify.Receivers) == 0 && s.Role() != spec.RoleAgent {
		res.Notes = append(res.Notes, "the spec has no notify.receivers: alerts show in llmmon status and Alertmanager, but nobody is told; add an email, dingtalk or wecom receiver, then run llmmon alert test")
	}
	creds := o.Credentials
	if creds == nil {
		c, err := ReadCredentials(s)
		switch {
		case errors.Is(err, ErrNoCredentials):
			if c, err = ephemeralCredentials(); err != nil {
				return nil, err
			}
			res.Notes = append(res.Notes, "stack "+s.Name+" has no credentials yet: the bundle has fresh ones (prometheus/secrets/llmmon/password); llmmon up generates and keeps its own")
		case err != nil:
			return nil, err
		}
		creds = c
	}
	b, err := render.Render(s, e.assets, render.Options{GPU: res.GPU, GPUExporter: res.GPUExporter, Credentials: creds.Render()})
	if err != nil {
		return nil, err
	}
	if err := check.Bundle(b); err != nil {
		return nil, fmt.Errorf("generated files failed validation (a bug in llmmon, please report it):\n%w", err)
	}
	res.Bundle = b
	return res, nil
}

// resolveEngines returns a copy of s in which every auto engine is replaced by the engine its
// /metrics shows, or "unknown" when it cannot be reached.
func (e *Engine) resolveEngines(ctx context.Context, s *spec.Spec, o RenderOptions, res *Rendered) *spec.Spec {
	cp := *s
	cp.Targets = append([]spec.Target(nil), s.Targets...)
	for i, t := range cp.Targets {
		if t.Engine != spec.EngineAuto {
			continue
		}
		if o.Offline {
			cp.Targets[i].Engine = "unknown"
			continue
		}
		f, err := e.probeTarget(ctx, t)
		switch {
		case err != nil:
			cp.Targets[i].Engine = "unknown"
			res.Notes = append(res.Notes, fmt.Sprintf("target %s: %s is unreachable (%v); it is scraped without engine-specific rules until it answers and you run `llmmon up` again", t.Name, t.URL, shortErr(err)))
		case f.Engine == "" || f.Engine == spec.EngineOllama:
			cp.Targets[i].Engine = "unknown"
			res.Notes = append(res.Notes, fmt.Sprintf("target %s: %s", t.Name, f.Note))
		default:
			cp.Targets[i].Engine = f.Engine
			res.Notes = append(res.Notes, fmt.Sprintf("target %s: recognised %s from its metrics", t.Name, f.Engine))
		}
	}
	return &cp
}

func (e *Engine) probeTarget(ctx context.Context, t spec.Target) (detect.Found, error) {
	g, err := render.TargetGroupFor(&spec.Spec{}, t)
	if err != nil {
		return detect.Found{}, err
	}
	base := g.Labels["__scheme__"] + "://" + g.Targets[0]
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return detect.Probe(ctx, e.http, base, base+g.Labels["__metrics_path__"])
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
