package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// ErrUnreachable is returned by AddTarget when the target does not answer (use Force).
var ErrUnreachable = errors.New("target unreachable")

// ErrScrapeFailed is returned by AddTarget when Prometheus' first scrape of the new target
// failed (a limit exceeded, an error answer, a timeout). The target stays in the spec.
var ErrScrapeFailed = errors.New("first scrape failed")

// AddTargetOptions control AddTarget.
type AddTargetOptions struct {
	// Force adds a target that does not answer yet.
	Force bool
	// Wait bounds the wait for the first scrape (default 1m; 0 after defaults means do not
	// wait). The wait ends at the first scrape, whether it succeeds or fails.
	Wait time.Duration
	// Up options used when the stack runs.
	Up UpOptions
	// Accept writes the mapping proposed for an app of no known engine; NoMapping adds such an
	// app without one. With neither, AddTarget changes nothing and returns ErrNeedsMapping with
	// the proposal in the result.
	Accept, NoMapping bool
}

// ErrNeedsMapping: the target is an app whose metrics need a mapping, and the caller has not
// said whether to write the proposed one.
var ErrNeedsMapping = errors.New("this app's metrics need a mapping")

// TargetResult says what AddTarget or RemoveTarget did.
type TargetResult struct {
	Engine   string // the engine recognised or given
	Note     string // what the probe saw
	Running  bool   // the stack runs, and Prometheus got the change without a restart
	Scraped  bool   // Prometheus scraped the new target successfully
	Waited   time.Duration
	LastErr  string // Prometheus' last scrape error when not scraped
	Failed   bool   // Prometheus tried a scrape and it failed (LastErr says why)
	Reloaded bool
	// Proposal is the mapping proposed for an app of no known engine (written with Accept).
	Proposal *detect.Proposal
}

// ProbeTarget checks that a target answers with Prometheus metrics and recognises its engine.
func (e *Engine) ProbeTarget(ctx context.Context, t spec.Target) (detect.Found, error) {
	g, err := render.TargetGroupFor(&spec.Spec{}, t)
	if err != nil {
		return detect.Found{}, fmt.Errorf("%w: %v", spec.ErrInvalid, err)
	}
	base := g.Labels["__scheme__"] + "://" + g.Targets[0]
	url := base + g.Labels["__metrics_path__"]
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	f, err := detect.Probe(ctx, e.http, base, url)
	if err != nil {
		return f, fmt.Errorf("%w: %s does not answer (%v)", ErrUnreachable, url, shortErr(err))
	}
	return f, nil
}

// AddTarget probes a new target, adds it to the spec file (keeping its comments) and, when the
// stack runs, to Prometheus' file-based discovery without restarting Prometheus; then it waits
// for Prometheus' first scrape of it. When that scrape fails (and Force is not set), it returns
// the result together with an error wrapping ErrScrapeFailed that says why in plain words; the
// target stays in the spec file and in Prometheus, which keeps trying it.
func (e *Engine) AddTarget(ctx context.Context, specFile string, s *spec.Spec, t spec.Target, o AddTargetOptions) (*TargetResult, error) {
	for _, x := range s.Targets {
		if x.Name == t.Name {
			return nil, fmt.Errorf("%w: a target named %q already exists; choose another name or `llmmon remove-target %s` first", spec.ErrInvalid, t.Name, t.Name)
		}
	}
	if t.Engine == "" {
		t.Engine = spec.EngineAuto
	}
	next := *s
	next.Targets = append(append([]spec.Target(nil), s.Targets...), t)
	if err := next.Validate(nil); err != nil {
		return nil, err
	}
	res := &TargetResult{Engine: t.Engine}
	f, err := e.ProbeTarget(ctx, t)
	switch {
	case err != nil && !o.Force:
		return nil, fmt.Errorf("%w; check the address, or add it anyway with --force", err)
	case err != nil:
		res.Note = "does not answer yet; added anyway (--force)"
	case f.Engine == spec.EngineOllama:
		return nil, fmt.Errorf("%w: %s is Ollama, which has no Prometheus metrics endpoint; put an exporter or gateway in front of it and add that", spec.ErrInvalid, t.URL)
	case f.Engine == "":
		return nil, fmt.Errorf("%w: %s", spec.ErrInvalid, f.Note)
	default:
		res.Note = f.Note
		if t.Engine == spec.EngineAuto {
			t.Engine = f.Engine
			res.Engine = f.Engine
		} else if t.Engine != f.Engine && f.Note == "" {
			res.Note = fmt.Sprintf("its metrics look like %s, not %s; keeping %s as you said", f.Engine, t.Engine, t.Engine)
		}
		if f.Proposal != nil && t.Engine == spec.EngineCustom && t.Metrics == nil {
			res.Proposal = f.Proposal
			switch {
			case f.Proposal.Standard != "":
				t.Metrics = f.Proposal.Metrics // a convention's names, not a guess
			case o.Accept:
				t.Metrics = f.Proposal.Metrics
				res.Note = "serves metrics of no known engine; added with the proposed mapping"
			case !o.NoMapping:
				return res, fmt.Errorf("%w: %s serves metrics of no known engine; nothing was changed", ErrNeedsMapping, t.URL)
			}
		}
	}
	if err := spec.AddTargetToFile(specFile, t); err != nil {
		return nil, err
	}
	next.Targets[len(next.Targets)-1] = t
	res, err = e.applyTargets(ctx, &next, t.Name, o, res)
	if err != nil || !res.Failed || o.Force {
		return res, err
	}
	return res, fmt.Errorf("%w: %s", ErrScrapeFailed, ExplainScrapeError(specFile, t.Name, res.LastErr, next.LimitsFor(t)))
}

// ExplainScrapeError puts Prometheus' error for a failed scrape of target name in plain words,
// with what to do. l is the limits the target is scraped with; specFile is where they are set.
func ExplainScrapeError(specFile, name, lastErr string, l spec.Limits) string {
	set := func(field string) string {
		return fmt.Sprintf("fix the endpoint, or give %s a higher limit in %s (under the target, `limits: {%s: ...}`) and run `llmmon up`", name, specFile, field)
	}
	var why, todo string
	switch {
	case strings.Contains(lastErr, "body size limit exceeded"):
		why = fmt.Sprintf("its metrics response is larger than the body_size limit (%s), so Prometheus stopped reading it", l.BodySize)
		todo = set("body_size")
	case strings.Contains(lastErr, "sample limit exceeded"):
		why = fmt.Sprintf("it returned more samples than the samples limit (%d)", l.Samples)
		todo = set("samples")
	case strings.Contains(lastErr, "label_limit exceeded"):
		why = fmt.Sprintf("a series has more labels than the labels limit (%d): %s", l.Labels, lastErr)
		todo = set("labels")
	case strings.Contains(lastErr, "label_name_length_limit exceeded"):
		why = fmt.Sprintf("a label name is longer than the label_name_length limit (%d): %s", l.LabelNameLength, lastErr)
		todo = set("label_name_length")
	case strings.Contains(lastErr, "label_value_length_limit exceeded"):
		why = fmt.Sprintf("a label value is longer than the label_value_length limit (%d): %s", l.LabelValueLength, lastErr)
		todo = set("label_value_length")
	default:
		why = "Prometheus could not scrape it: " + lastErr
		todo = "check that the service runs and that its metrics endpoint answers from this host"
	}
	return fmt.Sprintf("Prometheus' first scrape of %s failed: %s; %s. The target stays in %s and Prometheus keeps trying it; `llmmon remove-target %s` removes it", name, why, todo, specFile, name)
}

// RemoveTarget removes a target from the spec file and, when the stack runs, from Prometheus.
func (e *Engine) RemoveTarget(ctx context.Context, specFile string, s *spec.Spec, name string, o AddTargetOptions) (*TargetResult, error) {
	next := *s
	next.Targets = nil
	found := false
	for _, t := range s.Targets {
		if t.Name == name {
			found = true
			continue
		}
		next.Targets = append(next.Targets, t)
	}
	if !found {
		return nil, fmt.Errorf("%w: no target named %q", spec.ErrInvalid, name)
	}
	if err := spec.RemoveTargetFromFile(specFile, name); err != nil {
		return nil, err
	}
	o.Wait = 0
	return e.applyTargets(ctx, &next, "", o, &TargetResult{})
}

// applyTargets converges a running stack to the new spec: only Prometheus' files change, so it
// is a file copy and a reload, never a restart.
func (e *Engine) applyTargets(ctx context.Context, s *spec.Spec, wait string, o AddTargetOptions, res *TargetResult) (*TargetResult, error) {
	if e.rt == nil {
		return res, nil
	}
	if _, err := e.rt.Ping(ctx); err != nil {
		return res, nil // the spec file is updated; the next `llmmon up` applies it
	}
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	running := false
	for _, c := range cs {
		if c.Labels[runtime.LabelComponent] == "prometheus" && c.Running {
			running = true
		}
	}
	if !running {
		return res, nil
	}
	res.Running = true
	up, err := e.Up(ctx, s, o.Up)
	if err != nil {
		return nil, err
	}
	res.Reloaded = up.ComponentActions["prometheus"] == "reload"
	if wait == "" || o.Wait <= 0 {
		return res, nil
	}
	// The credentials are read once for the whole wait, not on every poll.
	ep, err := e.endpointsFor(s)
	if err != nil {
		return res, err
	}
	prom := ep.prom()
	if o.Up.Progress != nil {
		o.Up.Progress(Event{Component: "prometheus", Action: "wait", Detail: fmt.Sprintf("waiting (up to %s) for Prometheus' first scrape of %s", o.Wait, wait)})
	}
	start := time.Now()
	deadline := start.Add(o.Wait)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ts, err := prom.Targets(cctx)
		cancel()
		if err == nil {
			for _, t := range ts {
				if string(t.Labels["target"]) != wait {
					continue
				}
				res.LastErr = strings.TrimSpace(t.LastError)
				switch {
				case t.Health == v1.HealthGood:
					res.Scraped = true
					res.Waited = time.Since(start)
					return res, nil
				case t.Health == v1.HealthBad && !t.LastScrape.IsZero():
					// Prometheus tried, and the scrape failed: waiting longer would only show
					// the same error again.
					res.Failed = true
					res.Waited = time.Since(start)
					return res, nil
				}
			}
		}
		if time.Now().After(deadline) {
			res.Waited = time.Since(start)
			return res, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Targets returns every model-service target as the running Prometheus sees it.
func (e *Engine) Targets(ctx context.Context, s *spec.Spec) ([]TargetStatus, error) {
	ep, err := e.endpointsFor(s)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	all, err := activeTargets(cctx, ep.prom())
	var status *statusError
	switch {
	case errors.As(err, &status) && status.refused():
		return nil, fmt.Errorf("port %s answers, but not as stack %s's Prometheus (it refuses the stack's credentials; another stack or program holds the port)", strings.TrimPrefix(status.base, "http://"), s.Name)
	case err != nil:
		return nil, fmt.Errorf("%w (is the stack up? `llmmon status` says)", err)
	}
	var out []TargetStatus
	for _, t := range all {
		if t.Target != "" {
			out = append(out, t)
		}
	}
	return out, nil
}

// activeTargets returns every active scrape target of the running Prometheus.
func activeTargets(ctx context.Context, prom promAPI) ([]TargetStatus, error) {
	all, err := prom.Targets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]TargetStatus, 0, len(all))
	for _, t := range all {
		out = append(out, TargetStatus{Job: string(t.Labels["job"]), Target: string(t.Labels["target"]), Instance: string(t.Labels["instance"]), Health: string(t.Health), LastError: strings.TrimSpace(t.LastError)})
	}
	return out, nil
}
