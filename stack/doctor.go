package stack

import (
	"context"
	"fmt"
	"path"
	"sort"

	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// DoctorReport is what `llmmon doctor` found: per scraped model service, the panels, variables
// and records without data and why, and its scrape health.
type DoctorReport struct {
	Targets []*doctor.TargetReport `json:"targets"`
	Blind   int                    `json:"blind"` // checks without data, all targets
	Notes   int                    `json:"notes"` // scrape-health notes, all targets
}

// Doctor checks every model service the stack's Prometheus scrapes against the dashboards and
// records llmmon generates for its engine. It only reads.
func (e *Engine) Doctor(ctx context.Context, s *spec.Spec) (*DoctorReport, error) {
	ep, err := e.endpointsFor(s)
	if err != nil {
		return nil, err
	}
	q := ep.prom()
	up, err := q.Query(ctx, `group by (target, engine) (up{engine!=""})`)
	if err != nil {
		return nil, fmt.Errorf("cannot ask Prometheus which services it scrapes (is the stack up? `llmmon status` says): %w", err)
	}
	placeholder := render.Credentials{APIPassword: "unused", APIPasswordHash: "unused", RelayToken: "unused"}
	b, err := render.Render(s, e.assets, render.Options{GPU: true, Credentials: placeholder})
	if err != nil {
		return nil, err
	}
	a := doctor.Assets{Records: b.Files["prometheus/rules/records.yml"].Data, Dashboards: map[string][]byte{}}
	for p, f := range b.Under("grafana/dashboards/" + render.DashboardFolder + "/") {
		a.Dashboards[path.Base(p)] = f.Data
	}
	var ts []doctor.Target
	for _, x := range up {
		ts = append(ts, doctor.Target{Name: x.Labels["target"], Engine: x.Labels["engine"]})
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	r := &DoctorReport{Targets: []*doctor.TargetReport{}}
	for _, t := range ts {
		checks, err := doctor.Checks(a, t)
		if err != nil {
			return nil, err
		}
		tr, err := doctor.Diagnose(ctx, q, t, checks)
		if err != nil {
			return nil, fmt.Errorf("checking %s: %w", t.Name, err)
		}
		r.Targets = append(r.Targets, tr)
		r.Blind += tr.Blind
		r.Notes += len(tr.Notes)
	}
	return r, nil
}
