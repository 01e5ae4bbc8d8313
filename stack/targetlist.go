package stack

import (
	"context"
	"sort"

	"github.com/llmmon/llmmon/stack/spec"
)

// TargetRow is one model service of the spec with its scrape state, for `llmmon targets`.
type TargetRow struct {
	Name      string `json:"name"`
	Engine    string `json:"engine"`
	URL       string `json:"url"`
	Health    string `json:"health"` // Prometheus' (up, down), "not scraped yet", or "unknown"
	LastError string `json:"last_error,omitempty"`
}

// TargetList joins the spec's targets with what the running Prometheus says of them, by name,
// sorted by name. The engine is the one Prometheus scrapes it as (its job) once it is scraped.
// When Prometheus cannot be read, every row is "unknown" and liveErr says why.
func (e *Engine) TargetList(ctx context.Context, s *spec.Spec) (rows []TargetRow, liveErr error) {
	live, liveErr := e.Targets(ctx, s)
	byName := map[string]TargetStatus{}
	for _, t := range live {
		byName[t.Target] = t
	}
	rows = []TargetRow{}
	for _, t := range s.Targets {
		r := TargetRow{Name: t.Name, Engine: t.Engine, URL: t.URL, Health: "unknown"}
		if l, ok := byName[t.Name]; ok {
			r.Health, r.LastError, r.Engine = l.Health, l.LastError, l.Job
		} else if liveErr == nil {
			r.Health = "not scraped yet"
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, liveErr
}
