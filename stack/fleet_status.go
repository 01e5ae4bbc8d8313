package stack

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/stack/doctor"
)

// RemoteWriteStatus is one remote-write queue of the stack's Prometheus, from its own metrics.
type RemoteWriteStatus struct {
	Name    string  `json:"name"`
	URL     string  `json:"url"`
	Sent    float64 `json:"samples_sent"`
	Failed  float64 `json:"samples_failed"`
	Retried float64 `json:"samples_retried"`
	Pending float64 `json:"samples_pending"`
	// Behind is how far the newest sample sent is behind the newest sample queued, in seconds.
	Behind float64 `json:"behind_seconds"`
	Health string  `json:"health"`
	sentTS float64
}

// HostStatus is one host of a fleet, as the central stack sees it.
type HostStatus struct {
	Host       string    `json:"host"`
	LastSample time.Time `json:"last_sample"`
	TargetsUp  int       `json:"targets_up"`
	Targets    int       `json:"targets"`
	Health     string    `json:"health"`
}

// remoteWriteBehindLimit is when a queue counts as unhealthy (RemoteWriteBehind's threshold).
const remoteWriteBehindLimit = 120

// remoteWriteStatus reads the remote-write queues from Prometheus' /metrics.
func remoteWriteStatus(ctx context.Context, prom endpoint) ([]RemoteWriteStatus, error) {
	b, err := prom.getOK(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("read Prometheus' own metrics: %w", err)
	}
	queues := map[string]*RemoteWriteStatus{}
	var names []string
	for name, set := range map[string]func(*RemoteWriteStatus, float64){
		"prometheus_remote_storage_samples_total":                        func(q *RemoteWriteStatus, v float64) { q.Sent = v },
		"prometheus_remote_storage_samples_failed_total":                 func(q *RemoteWriteStatus, v float64) { q.Failed = v },
		"prometheus_remote_storage_samples_retried_total":                func(q *RemoteWriteStatus, v float64) { q.Retried = v },
		"prometheus_remote_storage_samples_pending":                      func(q *RemoteWriteStatus, v float64) { q.Pending = v },
		"prometheus_remote_storage_queue_highest_timestamp_seconds":      func(q *RemoteWriteStatus, v float64) { q.Behind += v },
		"prometheus_remote_storage_queue_highest_sent_timestamp_seconds": func(q *RemoteWriteStatus, v float64) { q.Behind -= v; q.sentTS = v },
	} {
		f, ok := fams[name]
		if !ok {
			continue
		}
		for _, m := range f.GetMetric() {
			var rn, u string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "remote_name":
					rn = l.GetValue()
				case "url":
					u = l.GetValue()
				}
			}
			q := queues[rn]
			if q == nil {
				q = &RemoteWriteStatus{Name: rn, URL: u}
				queues[rn] = q
				names = append(names, rn)
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			set(q, v)
		}
	}
	sort.Strings(names)
	out := make([]RemoteWriteStatus, 0, len(names))
	for _, n := range names {
		q := queues[n]
		q.Behind = math.Max(0, q.Behind)
		if q.sentTS == 0 {
			q.Behind = 0
		}
		switch {
		case q.sentTS == 0:
			q.Health = "nothing sent yet (a queue sends within seconds of starting; if it stays, is " + q.URL + " reachable?)"
		case q.Behind > remoteWriteBehindLimit:
			q.Health = fmt.Sprintf("behind: the newest samples wait %s (is %s reachable?)", time.Duration(q.Behind)*time.Second, q.URL)
		case q.Failed > 0:
			q.Health = fmt.Sprintf("sending, but %.0f samples were refused (see llmmon logs prometheus)", q.Failed)
		default:
			q.Health = "sending"
		}
		out = append(out, *q)
	}
	return out, nil
}

// hostsStatus lists the hosts whose series the central stack has held in the last hour: when
// each sent last, and its targets up.
func hostsStatus(ctx context.Context, prom promAPI, now time.Time) ([]HostStatus, error) {
	// The newest sample: within the lookback directly, older ones (a silent host) by a subquery.
	last, err := prom.Query(ctx, `max by (host) (timestamp(up{host!=""})) or max by (host) (max_over_time(timestamp(up{host!=""})[1h:15s]))`)
	if err != nil {
		return nil, err
	}
	up, _ := prom.Query(ctx, `count by (host) (up{host!=""} == 1)`)
	all, _ := prom.Query(ctx, `count by (host) (up{host!=""})`)
	count := func(res []doctor.Sample, h string) int {
		for _, s := range res {
			if s.Labels["host"] == h {
				return int(s.Value)
			}
		}
		return 0
	}
	var out []HostStatus
	for _, s := range last {
		h := HostStatus{Host: s.Labels["host"], LastSample: time.Unix(int64(s.Value), 0)}
		h.TargetsUp, h.Targets = count(up, h.Host), count(all, h.Host)
		age := now.Sub(h.LastSample).Truncate(time.Second)
		switch {
		case age > 2*time.Minute:
			h.Health = fmt.Sprintf("silent for %s: its agent, the host or the network is down", age)
		case h.TargetsUp < h.Targets:
			h.Health = fmt.Sprintf("reporting; %d of %d targets down", h.Targets-h.TargetsUp, h.Targets)
		default:
			h.Health = "reporting"
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}
