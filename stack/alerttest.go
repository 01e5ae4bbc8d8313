package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/relay"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// AlertTestOptions control AlertTest.
type AlertTestOptions struct {
	// Receivers to test (default: all).
	Receivers []string
	// Timeout bounds the wait for every delivery (default 60s).
	Timeout time.Duration
	// Progress is told about each receiver's outcome as it arrives; it may be nil.
	Progress func(AlertTestResult)
}

// AlertTestResult is what happened to the test alert sent to one receiver.
type AlertTestResult struct {
	Receiver string `json:"receiver"`
	Kind     string `json:"kind"`
	// Outcome is delivered, failed or no-answer.
	Outcome string `json:"outcome"`
	// Detail is the platform's error in plain words (failed), or what is known (no-answer).
	Detail string        `json:"detail,omitempty"`
	After  time.Duration `json:"after_ns"`
}

// Outcomes of a test delivery.
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
	OutcomeNoAnswer  = "no-answer"
)

// ErrUnknownReceiver is returned for a --receiver the spec does not define.
var ErrUnknownReceiver = errors.New("unknown receiver")

// ErrNoReceivers is returned when the spec has nowhere to send alerts.
var ErrNoReceivers = errors.New("the spec has no receivers")

// AlertTest sends one synthetic alert per receiver through the running stack's Alertmanager
// (and, for DingTalk and WeCom, the relay) and reports, per receiver, whether the platform
// accepted it or what it answered. The test alerts are resolved afterwards.
func (e *Engine) AlertTest(ctx context.Context, s *spec.Spec, o AlertTestOptions) ([]AlertTestResult, error) {
	if o.Timeout == 0 {
		o.Timeout = time.Minute
	}
	if len(s.Notify.Receivers) == 0 {
		return nil, fmt.Errorf("%w: add one under notify.receivers (email, dingtalk, wecom, wecom_app or webhook) and run llmmon up", ErrNoReceivers)
	}
	var rcvs []spec.Receiver
	if len(o.Receivers) == 0 {
		rcvs = s.Notify.Receivers
	}
	for _, name := range o.Receivers {
		found := false
		for _, r := range s.Notify.Receivers {
			if r.Name == name {
				rcvs, found = append(rcvs, r), true
			}
		}
		if !found {
			var all []string
			for _, r := range s.Notify.Receivers {
				all = append(all, r.Name)
			}
			return nil, fmt.Errorf("%w %q; the spec has: %s", ErrUnknownReceiver, name, strings.Join(all, ", "))
		}
	}
	ep, err := e.endpointsFor(s)
	if err != nil {
		return nil, err
	}
	am, rl := ep.am(), ep.relay()
	var status *statusError
	if err := am.Ready(ctx); err != nil {
		if errors.As(err, &status) && status.refused() {
			return nil, fmt.Errorf("alertmanager at %s refuses stack %s's credentials: another stack or program holds its port", am.base, s.Name)
		}
		return nil, fmt.Errorf("alertmanager at %s is not running; start the stack with llmmon up first", am.base)
	}
	needRelay := false
	for _, r := range rcvs {
		if r.DingTalk != nil || r.WeCom != nil {
			needRelay = true
		}
	}
	if needRelay {
		// /-/ready is open; /api/v1/status proves the relay is this stack's (it wants the token).
		if _, err := rl.Status(ctx); err != nil {
			if errors.As(err, &status) && status.refused() {
				return nil, fmt.Errorf("the notification relay at %s refuses stack %s's token: another stack or program holds its port", rl.base, s.Name)
			}
			return nil, fmt.Errorf("the notification relay at %s is not running; run llmmon up (it starts the relay for dingtalk and wecom receivers)", rl.base)
		}
	}
	// The running Alertmanager must have this spec's test routes (a stack started by an older
	// llmmon, or from another spec, would route the test alert elsewhere).
	if st, err := am.Status(ctx); err != nil || !strings.Contains(st.Config.Original, render.TestReceiverLabel) {
		return nil, fmt.Errorf("the running Alertmanager does not have this spec's receivers; run llmmon up first")
	}
	before, _ := am.NotificationCounters(ctx)
	start := time.Now()
	idb := make([]byte, 6)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	alerts := make([]amAlert, 0, len(rcvs))
	for _, r := range rcvs {
		alerts = append(alerts, testAlert(s, id, r.Name, start, time.Time{}))
	}
	if err := am.PostAlerts(ctx, alerts); err != nil {
		return nil, fmt.Errorf("send the test alert to alertmanager: %w", err)
	}
	defer func() {
		// Resolve the test alerts, so that they do not linger (a resolved message follows).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		now := time.Now()
		res := make([]amAlert, 0, len(rcvs))
		for _, r := range rcvs {
			res = append(res, testAlert(s, id, r.Name, start, now))
		}
		_ = am.PostAlerts(rctx, res)
	}()

	results := map[string]*AlertTestResult{}
	record := func(res *AlertTestResult) {
		res.After = time.Since(start)
		results[res.Receiver] = res
		if o.Progress != nil {
			o.Progress(*res)
		}
	}
	relayResults := func() []relay.TestResult {
		if !needRelay {
			return nil
		}
		out, _ := rl.TestResults(ctx, id)
		return out
	}
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for timedOut := false; len(results) < len(rcvs) && !timedOut; {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			timedOut = true
		case <-tick.C:
		}
		relayRes := relayResults()
		after, _ := am.NotificationCounters(ctx)
		for _, r := range rcvs {
			if results[r.Name] != nil {
				continue
			}
			if res := e.judge(ctx, s, am, r, relayRes, before, after, timedOut); res != nil {
				record(res)
			} else if timedOut {
				res := &AlertTestResult{Receiver: r.Name, Kind: r.Kind(), Outcome: OutcomeNoAnswer,
					Detail: fmt.Sprintf("no delivery within %s; llmmon status and the alertmanager/relay container logs say more", o.Timeout)}
				if r.DingTalk != nil || r.WeCom != nil {
					res.Detail = fmt.Sprintf("the relay has not delivered it within %s (the robot may be rate-limited; the relay keeps retrying)", o.Timeout)
				}
				record(res)
			}
		}
	}
	out := make([]AlertTestResult, 0, len(rcvs))
	for _, r := range rcvs {
		out = append(out, *results[r.Name])
	}
	return out, nil
}

// retryGrace is how long alert test waits for the relay's retries after a transient failure.
const retryGrace = 10 * time.Second

// judge decides one receiver's outcome, or returns nil while it is not known yet.
func (e *Engine) judge(ctx context.Context, s *spec.Spec, am amAPI, r spec.Receiver, relayRes []relay.TestResult, before, after map[string]notifyCount, lastCall bool) *AlertTestResult {
	res := &AlertTestResult{Receiver: r.Name, Kind: r.Kind()}
	if r.DingTalk != nil || r.WeCom != nil {
		for _, t := range relayRes {
			if t.Receiver != r.Name {
				continue
			}
			if t.Delivered {
				res.Outcome = OutcomeDelivered
				return res
			}
			if t.Retrying && time.Since(t.At) < retryGrace && !lastCall {
				// The relay retries network errors, 5xx and throttling: give it a moment.
				return nil
			}
			res.Outcome = OutcomeFailed
			res.Detail = t.Error
			return res
		}
		return nil
	}
	ok := after[r.Name].OK - before[r.Name].OK
	failed := after[r.Name].Failed - before[r.Name].Failed
	if ok > 0 && failed == 0 {
		// The attempt counter moves just before the failure counter: read both again.
		time.Sleep(100 * time.Millisecond)
		if again, err := am.NotificationCounters(ctx); err == nil {
			ok = again[r.Name].OK - before[r.Name].OK
			failed = again[r.Name].Failed - before[r.Name].Failed
		}
	}
	switch {
	case failed > 0:
		res.Outcome = OutcomeFailed
		res.Detail = e.amFailure(ctx, s, r)
	case ok > 0:
		res.Outcome = OutcomeDelivered
	default:
		return nil
	}
	return res
}

var amErrRe = regexp.MustCompile(`err="((?:[^"\\]|\\.)*)"`)

// amFailure finds Alertmanager's last error for receiver r in its log and says it plainly.
func (e *Engine) amFailure(ctx context.Context, s *spec.Spec, r spec.Receiver) string {
	if e.rt == nil {
		return "Alertmanager could not deliver it; see its log"
	}
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return "Alertmanager could not deliver it; see its log"
	}
	for _, c := range cs {
		if c.Labels[runtime.LabelComponent] != "alertmanager" {
			continue
		}
		logs, err := e.rt.Logs(ctx, c.ID, 200)
		if err != nil {
			break
		}
		lines := strings.Split(logs, "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			l := lines[i]
			m := amErrRe.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			msg := strings.ReplaceAll(m[1], `\"`, `"`)
			// Retries log receiver=NAME; a failure that ends the notification logs an error
			// that starts with NAME/integration[i].
			if !strings.Contains(l, "receiver="+r.Name+" ") && !strings.Contains(l, `receiver="`+r.Name+`"`) && !strings.HasPrefix(msg, r.Name+"/") {
				continue
			}
			if _, rest, ok := strings.Cut(msg, " attempts: "); ok {
				msg = rest
			}
			return explainAMError(r.Kind(), msg)
		}
	}
	return "Alertmanager could not deliver it; see its log (docker logs llmmon-" + s.Name + "-alertmanager)"
}

// explainAMError puts Alertmanager's notifier errors in plain words, keeping the original.
func explainAMError(kind, msg string) string {
	low := strings.ToLower(msg)
	hint := ""
	switch {
	case kind == "email" && (strings.Contains(low, "535") || strings.Contains(low, "authentication")):
		hint = "the SMTP server refused the login: check username and password"
	case kind == "email" && strings.Contains(low, "starttls"):
		hint = "the SMTP server does not offer STARTTLS: set tls: tls for port 465, or tls: none for a local relay"
	case strings.Contains(low, "certificate"):
		hint = "the server's TLS certificate is not trusted"
	case strings.Contains(low, "connection refused"):
		hint = "nothing listens at that address and port"
	case strings.Contains(low, "no such host"):
		hint = "the host name does not resolve"
	case strings.Contains(low, "timeout") || strings.Contains(low, "deadline"):
		hint = "the server did not answer in time (firewall?)"
	case kind == "email" && (strings.Contains(low, "550") || strings.Contains(low, "553") || strings.Contains(low, "554")):
		hint = "the SMTP server rejected the sender or a recipient"
	case kind == "wecom_app" && (strings.Contains(low, "60020") || strings.Contains(low, "not allow to access from your ip")):
		hint = "WeCom 60020: this host's IP is not in the app's trusted IPs (app settings, 企业可信IP)"
	case kind == "wecom_app" && (strings.Contains(low, "invalid apisecret") || strings.Contains(low, "40001") || strings.Contains(low, "40013")):
		hint = "WeCom rejected the corp id or the app secret"
	case kind == "wecom_app" && strings.Contains(low, "invalid agentid"):
		hint = "WeCom 40056: the agent id is not this app's"
	}
	msg = redactURL(msg)
	if hint == "" {
		return msg
	}
	return hint + " (" + msg + ")"
}

var urlRe = regexp.MustCompile(`https?://[^\s"]+`)

// redactURL hides URLs, which may hold tokens, in errors shown to people.
func redactURL(s string) string {
	return urlRe.ReplaceAllStringFunc(s, func(u string) string {
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			return u[:i] + "?<hidden>"
		}
		return u
	})
}

func testAlert(s *spec.Spec, id, receiver string, start, end time.Time) amAlert {
	summary := "Test alert from llmmon: if you read this, receiver " + receiver + " works"
	if s.Language == "zh" {
		summary = "llmmon 测试告警：看到这条消息说明接收者 " + receiver + " 配置正确"
	}
	a := amAlert{
		Labels: map[string]string{
			"alertname":              "LLMMonTestAlert",
			"severity":               "critical",
			"target":                 "llmmon-alert-test",
			"instance":               "llmmon-alert-test",
			render.TestLabel:         id,
			render.TestReceiverLabel: receiver,
		},
		Annotations: map[string]string{
			"summary":     summary,
			"description": "Sent by `llmmon alert test`; it resolves by itself.",
			"value":       "42",
			"dashboard":   render.GrafanaURL(s) + "/d/llmmon-overview/",
		},
		StartsAt: start.UTC(),
	}
	if !end.IsZero() {
		a.EndsAt = end.UTC()
	}
	return a
}
