package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/llmmon/llmmon/stack/report"
	"github.com/llmmon/llmmon/stack/spec"
)

// ReportConfig is the scheduled service report: what it covers, where its figures come from,
// and who gets it. The Prometheus and SMTP passwords are in files of their own (0600).
type ReportConfig struct {
	// Schedule is "mon 09:00", "daily 09:00" or "monthly 09:00", in the relay's timezone.
	Schedule string        `yaml:"schedule"`
	Period   time.Duration `yaml:"period"`
	// Prometheus is the stack's Prometheus (http://127.0.0.1:9090), with basic auth.
	Prometheus             string        `yaml:"prometheus"`
	PrometheusUser         string        `yaml:"prometheus_user,omitempty"`
	PrometheusPasswordFile string        `yaml:"prometheus_password_file,omitempty"`
	EvalInterval           time.Duration `yaml:"evaluation_interval,omitempty"`
	// Targets are the model services; Objectives their availability SLOs (ratios).
	Targets    []string           `yaml:"targets"`
	Objectives map[string]float64 `yaml:"objectives,omitempty"`
	// GrafanaURL is where the robots' link and the email's link go.
	GrafanaURL string `yaml:"grafana_url,omitempty"`
	// Email are the email receivers; Robots name receivers of this relay.
	Email  []report.Mail `yaml:"email,omitempty"`
	Robots []string      `yaml:"robots,omitempty"`
	// StateFile remembers the last report sent, so a restart neither repeats nor loses one.
	StateFile string `yaml:"state_file,omitempty"`
}

func (c *ReportConfig) check(robots map[string]bool) []error {
	var errs []error
	if _, err := spec.ParseSchedule(c.Schedule); err != nil {
		errs = append(errs, fmt.Errorf("report.schedule %q: %w", c.Schedule, err))
	}
	if c.Period < time.Hour {
		errs = append(errs, fmt.Errorf("report.period %s: want at least 1h", c.Period))
	}
	if u, err := url.Parse(c.Prometheus); err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("report.prometheus %q: want http://host:port", c.Prometheus))
	}
	for _, n := range c.Robots {
		if !robots[n] {
			errs = append(errs, fmt.Errorf("report.robots: no receiver %q", n))
		}
	}
	if c.EvalInterval == 0 {
		c.EvalInterval = 5 * time.Second
	}
	return errs
}

// Report results.
const (
	ReportSent   = "sent"
	ReportFailed = "failed"
)

// ReportResult is what became of the report at one receiver.
type ReportResult struct {
	Receiver string `json:"receiver"`
	Kind     string `json:"kind"`
	Result   string `json:"result"`
	Error    string `json:"error,omitempty"`
}

// ErrNoReport: the relay has no report configured.
var ErrNoReport = errors.New("no report is configured (report: in the spec)")

// SendReport builds the report of the period that ends at end and delivers it to every
// receiver; it returns each receiver's result, and an error only when the report could not be
// built at all.
func (r *Relay) SendReport(ctx context.Context, end time.Time) ([]ReportResult, error) {
	r.mu.Lock()
	cfg, lang, tz := r.cfg.Report, r.cfg.Language, r.cfg.Timezone
	rcvs := map[string]Receiver{}
	for _, rc := range r.cfg.Receivers {
		rcvs[rc.Name] = rc
	}
	r.mu.Unlock()
	if cfg == nil {
		return nil, ErrNoReport
	}
	loc, _ := time.LoadLocation(tz)
	password, err := report.ReadSecretFile(cfg.PrometheusPasswordFile)
	if err != nil {
		return nil, fmt.Errorf("read the report's Prometheus password: %w", err)
	}
	q, err := report.NewPromQuerier(cfg.Prometheus, cfg.PrometheusUser, password)
	if err != nil {
		return nil, err
	}
	rep, err := report.Build(ctx, q, report.Options{End: end, Period: cfg.Period, Targets: cfg.Targets, Objectives: cfg.Objectives,
		EvalInterval: cfg.EvalInterval, Curves: true})
	if err != nil {
		return nil, err
	}
	link := ""
	if cfg.GrafanaURL != "" {
		link = fmt.Sprintf("%s/d/llmmon-overview/?from=%d&to=%d", cfg.GrafanaURL, rep.Start.UnixMilli(), rep.End.UnixMilli())
	}
	subject := rep.Subject(lang, loc)
	var results []ReportResult
	if len(cfg.Email) > 0 {
		plots, err := rep.Render(lang, loc)
		if err != nil {
			return nil, err
		}
		if plots.FontNote != "" {
			r.log.Warn("report plots", "note", plots.FontNote)
		}
		html, err := rep.HTML(lang, loc, report.HTMLOptions{Plots: plots, ImageSrc: report.MailImageSrc, Link: link, LinkText: link})
		if err != nil {
			return nil, err
		}
		text := rep.Markdown(lang, loc)
		for _, m := range cfg.Email {
			res := ReportResult{Receiver: m.Name, Kind: "email", Result: ReportSent}
			if err := m.Send(ctx, subject, html, text, plots); err != nil {
				res.Result, res.Error = ReportFailed, err.Error()
			}
			results = append(results, res)
		}
	}
	for _, name := range cfg.Robots {
		rc := rcvs[name]
		res := ReportResult{Receiver: name, Kind: rc.Kind, Result: ReportSent}
		if err := r.postReport(ctx, rc, rep.Summary(lang, loc, link, limitFor(&rc)-512), subject); err != nil {
			res.Result, res.Error = ReportFailed, err.Error()
		}
		results = append(results, res)
	}
	for _, res := range results {
		r.metrics.reports.WithLabelValues(res.Receiver, res.Result).Inc()
		if res.Error != "" {
			r.log.Error("report not delivered", "receiver", res.Receiver, "error", res.Error)
		} else {
			r.log.Info("report delivered", "receiver", res.Receiver, "period_end", end.Format(time.RFC3339))
		}
	}
	return results, nil
}

// postReport sends the summary to a robot as one Markdown message, within the robot's rate
// limit, retrying throttling and server errors a few times.
func (r *Relay) postReport(ctx context.Context, rc Receiver, text, title string) error {
	if rc.Keyword != "" {
		text += "\n\n" + rc.Keyword
	}
	var body []byte
	if rc.Kind == KindWeCom {
		b := weComBody{MsgType: "markdown", Markdown: &struct {
			Content string `json:"content"`
		}{Content: text}}
		body = marshal(b)
	} else {
		var b dingTalkBody
		b.MsgType, b.Markdown.Title, b.Markdown.Text = "markdown", title, text
		body = marshal(b)
	}
	r.mu.Lock()
	q := r.queues[rc.Name]
	r.mu.Unlock()
	var err error
	backoff := time.Duration(0)
	for attempt := 0; attempt < 4; attempt++ {
		if q != nil {
			for d := q.rateWait(r.now()); d > 0; d = q.rateWait(r.now()) {
				if !sleep(ctx, d) {
					return ctx.Err()
				}
			}
			q.mu.Lock()
			q.sent = append(q.sent, r.now())
			q.mu.Unlock()
		}
		if err = r.post(ctx, &rc, body); err == nil {
			return nil
		}
		de := asDeliveryError(rc.Kind, err)
		if !de.Retry {
			return de
		}
		backoff = nextBackoff(backoff, de)
		if !sleep(ctx, backoff) {
			return ctx.Err()
		}
	}
	return err
}

// reportState is the report's state file.
type reportState struct {
	// Last is the scheduled time of the last report sent.
	Last time.Time `json:"last"`
}

// reportCatchUp is how late a report missed while the relay was down is still sent.
const reportCatchUp = 12 * time.Hour

// nextReport is when the next report is due: the first scheduled time after the last one sent
// or, when that was long ago, after now less reportCatchUp (after now when none was ever sent), so that a report
// missed while the relay was down is sent late, and an older one is skipped.
func nextReport(sc spec.Schedule, loc *time.Location, last, now time.Time) time.Time {
	from := now.Add(-reportCatchUp)
	switch {
	case last.IsZero():
		from = now // a new stack has no report to catch up on
	case last.After(from):
		from = last
	}
	return sc.Next(from, loc)
}

// reportLoop sends the report when the schedule says, reading the configuration again each
// minute (a reload changes the schedule). A report missed while the relay was down is sent
// when it comes back, if that is within 12 hours; one already sent is never sent again.
func (r *Relay) reportLoop(ctx context.Context) {
	for {
		r.mu.Lock()
		cfg, tz := r.cfg.Report, r.cfg.Timezone
		r.mu.Unlock()
		wait := time.Minute
		if cfg != nil {
			loc, _ := time.LoadLocation(tz)
			sc, _ := spec.ParseSchedule(cfg.Schedule)
			st := r.loadReportState(cfg.StateFile)
			now := r.now()
			due := nextReport(sc, loc, st.Last, now)
			if !due.After(now) {
				if _, err := r.SendReport(ctx, due); err != nil {
					r.log.Error("report not built", "error", err)
					wait = 5 * time.Minute
				} else if err := r.saveReportState(cfg.StateFile, reportState{Last: due}); err != nil {
					r.log.Error("report state not saved", "error", err)
				}
				// Whatever became of it, the next is the next scheduled one: a failed
				// delivery is logged and counted, not repeated every minute.
				if !sleep(ctx, wait) {
					return
				}
				continue
			}
			wait = min(wait, due.Sub(now))
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (r *Relay) loadReportState(path string) reportState {
	var st reportState
	if path == "" {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.reportMem
	}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

func (r *Relay) saveReportState(path string, st reportState) error {
	if path == "" {
		r.mu.Lock()
		r.reportMem = st
		r.mu.Unlock()
		return nil
	}
	b, _ := json.Marshal(st)
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// reportResultsStatus is the HTTP status of a manual send: 200 when every receiver got it.
func reportResultsStatus(res []ReportResult) int {
	for _, r := range res {
		if r.Result != ReportSent {
			return 502
		}
	}
	return 200
}
