package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/test/robots"
)

// syncBuf is a log sink tests read after the relay wrote to it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type env struct {
	robots *robots.Server
	base   string
	relay  *Relay
	srv    *httptest.Server
	logs   *syncBuf
	cancel context.CancelFunc
	done   chan error
}

const (
	dtToken  = "dt-token-0123456789abcdef"
	dtSecret = "SECsecret-0123456789abcdef"
	wcKey    = "6d3f1c2a-0000-4000-8000-0123456789ab"
)

func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	rs := robots.New()
	rs.AddDingTalk(dtToken, robots.DingTalkRobot{Secret: dtSecret})
	rs.AddDingTalk("kw-token", robots.DingTalkRobot{Keywords: []string{"LLMOPS"}})
	rs.AddWeCom(wcKey)
	base, err := rs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	cfg := &Config{
		Token:     testToken,
		Language:  "en",
		Timezone:  "Asia/Shanghai",
		BatchWait: 50 * time.Millisecond,
		Receivers: []Receiver{
			{Name: "ding", Kind: KindDingTalk, URL: base + "/robot/send?access_token=" + dtToken, Secret: dtSecret, AtMobiles: []string{"13800000000"}},
			{Name: "ding-kw", Kind: KindDingTalk, URL: base + "/robot/send?access_token=kw-token", Keyword: "LLMOPS"},
			{Name: "wecom", Kind: KindWeCom, URL: base + "/cgi-bin/webhook/send?key=" + wcKey, Mentioned: []string{"zhangsan", "@all"}},
		},
	}
	if mutate != nil {
		mutate(cfg)
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	e := &env{robots: rs, base: base, logs: &syncBuf{}}
	e.start(t, cfg)
	return e
}

func (e *env) start(t *testing.T, cfg *Config) {
	t.Helper()
	r, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	e.relay = r
	e.srv = httptest.NewServer(r.Handler(""))
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan error, 1)
	go func() { e.done <- r.Run(ctx) }()
	t.Cleanup(e.stop)
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	e.srv.Close()
	e.cancel = nil
}

func alertN(i int, status, severity string) Alert {
	return Alert{
		Status: status,
		Labels: map[string]string{"alertname": "LLMServiceDown", "severity": severity, "target": fmt.Sprintf("vllm-%03d", i), "instance": fmt.Sprintf("10.0.0.%d:8000", i%250)},
		Annotations: map[string]string{
			"summary":   fmt.Sprintf("Model service vllm-%03d is down", i),
			"value":     "0",
			"dashboard": "http://127.0.0.1:3000/d/llmmon-overview/?viewPanel=1&var-target=vllm",
		},
		StartsAt:    time.Date(2026, 11, 30, 2, 3, 4, 0, time.UTC),
		Fingerprint: fmt.Sprintf("fp%04d", i),
	}
}

func (e *env) notify(t *testing.T, receiver string, alerts ...Alert) int {
	t.Helper()
	b, _ := json.Marshal(Notification{Version: "4", Status: "firing", Receiver: receiver, ExternalURL: "http://127.0.0.1:9093", Alerts: alerts})
	return post(t, e.srv.URL+"/v1/notify/"+receiver, "Bearer "+testToken, b)
}

// testToken is the relay's token in these tests.
const testToken = "relay-token-0123456789"

// post sends body with an Authorization header (none when auth is "") and returns the status.
func post(t *testing.T, url, auth string, body []byte) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) wait(t *testing.T, robot string, timeout time.Duration, pred func([]robots.Message) bool) []robots.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	msgs, err := e.robots.WaitMessages(ctx, robot, pred)
	if err != nil {
		t.Fatalf("robot %s: %v; got %d messages, rejections %+v; relay log:\n%s", robot, err, len(msgs), e.robots.Rejections(robot), e.logs.String())
	}
	return msgs
}

func TestDingTalkSignedMarkdown(t *testing.T) {
	e := newEnv(t, nil)
	if code := e.notify(t, "ding", alertN(1, "firing", "critical")); code != 200 {
		t.Fatalf("notify: HTTP %d", code)
	}
	msgs := e.wait(t, dtToken, 10*time.Second, nil)
	m := msgs[0]
	if m.MsgType != "markdown" {
		t.Fatalf("msgtype %q", m.MsgType)
	}
	for _, want := range []string{"FIRING", "critical", "LLMServiceDown", "Model service vllm-001 is down", "Value: 0", "vllm-001 (10.0.0.1:8000)",
		"2026-11-30 10:03:04 CST", "[Dashboard](http://127.0.0.1:3000/d/llmmon-overview/", "[Silence](http://127.0.0.1:9093/#/silences/new?filter=", "@13800000000"} {
		if !strings.Contains(m.Title+m.Content, want) {
			t.Errorf("message lacks %q:\n%s\n%s", want, m.Title, m.Content)
		}
	}
	if len(m.AtMobiles) != 1 || m.AtMobiles[0] != "13800000000" {
		t.Errorf("atMobiles = %v", m.AtMobiles)
	}
	if len(e.robots.Rejections(dtToken)) != 0 {
		t.Errorf("rejections: %+v", e.robots.Rejections(dtToken))
	}
	// Resolved: no mention.
	a := alertN(1, "resolved", "critical")
	a.EndsAt = a.StartsAt.Add(5 * time.Minute)
	e.notify(t, "ding", a)
	msgs = e.wait(t, dtToken, 10*time.Second, func(m []robots.Message) bool { return len(m) >= 2 })
	if r := msgs[1]; !strings.Contains(r.Content, "RESOLVED") || !strings.Contains(r.Content, "10:08:04") || len(r.AtMobiles) != 0 || strings.Contains(r.Content, "@138") {
		t.Errorf("resolved message:\n%s (at %v)", r.Content, r.AtMobiles)
	}
}

func TestSignMatchesIndependentVector(t *testing.T) {
	// printf '%s\n%s' 1700000000000 SECtest | openssl dgst -sha256 -hmac SECtest -binary | base64
	if got := Sign("SECtest", 1700000000000); got != "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g=" {
		t.Fatalf("Sign = %s", got)
	}
}

func TestDingTalkKeyword(t *testing.T) {
	e := newEnv(t, nil)
	e.notify(t, "ding-kw", alertN(2, "firing", "warning"))
	msgs := e.wait(t, "kw-token", 10*time.Second, nil)
	if !strings.Contains(msgs[0].Content, "LLMOPS") {
		t.Errorf("keyword missing:\n%s", msgs[0].Content)
	}
}

func TestWeComMarkdownAndMentions(t *testing.T) {
	e := newEnv(t, nil)
	e.notify(t, "wecom", alertN(3, "firing", "critical"))
	msgs := e.wait(t, wcKey, 10*time.Second, func(m []robots.Message) bool { return len(m) >= 2 })
	md, txt := msgs[0], msgs[1]
	if md.MsgType != "markdown" || !strings.Contains(md.Content, `<font color="warning">FIRING</font>`) || !strings.Contains(md.Content, "<@zhangsan>") {
		t.Errorf("markdown:\n%s", md.Content)
	}
	if txt.MsgType != "text" || len(txt.Mentioned) != 1 || txt.Mentioned[0] != "@all" {
		t.Errorf("mention message: %+v", txt)
	}
}

// A storm of 500 alerts, each in its own notification as Alertmanager sends them when every
// alert is its own group, arrives as a few messages that list every alert, each under the
// platform's byte limit, with no rejection.
func TestStormIsBatchedUnderLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BatchWait = 500 * time.Millisecond })
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range []string{"ding", "wecom"} {
				if code := e.notify(t, r, alertN(i, "firing", "critical")); code != 200 {
					t.Errorf("notify %s: HTTP %d", r, code)
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range []struct {
		robot, kind string
		limit       int
	}{{dtToken, "dingtalk", robots.DingTalkMaxBody}, {wcKey, "wecom", robots.WeComMarkdownMax}} {
		msgs := e.wait(t, c.robot, 90*time.Second, func(m []robots.Message) bool { return countTargets(m) >= 500 })
		if n := countTargets(msgs); n != 500 {
			t.Errorf("%s: %d of 500 alerts delivered", c.kind, n)
		}
		if len(msgs) > 19 {
			t.Errorf("%s: %d messages for one storm, want at most 19", c.kind, len(msgs))
		}
		for _, m := range msgs {
			size := m.BodyBytes
			if c.kind == "wecom" {
				size = len(m.Content)
			}
			if size > c.limit {
				t.Errorf("%s: message of %d bytes over the limit %d", c.kind, size, c.limit)
			}
		}
		if rj := e.robots.Rejections(c.robot); len(rj) > 0 {
			t.Errorf("%s: rejections %+v", c.kind, rj)
		}
		t.Logf("%s: 500 alerts in %d messages", c.kind, len(msgs))
	}
}

func countTargets(msgs []robots.Message) int {
	seen := map[string]bool{}
	for _, m := range msgs {
		for i := range 500 {
			if strings.Contains(m.Content, fmt.Sprintf("vllm-%03d ", i)) || strings.Contains(m.Content, fmt.Sprintf("vllm-%03d\n", i)) {
				seen[fmt.Sprint(i)] = true
			}
		}
	}
	return len(seen)
}

// The relay sends at most 19 messages a minute, however many it has to send.
func TestRateLimitHoldsBackAndBatches(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BatchWait = 10 * time.Millisecond })
	for i := range 25 {
		e.notify(t, "ding", alertN(i, "firing", "critical"))
		time.Sleep(40 * time.Millisecond) // each arrives after the previous was sent
	}
	time.Sleep(2 * time.Second)
	if n := e.robots.Count(dtToken); n != DefaultMessagesPerMinute {
		t.Errorf("sent %d messages in the first seconds, want exactly %d", n, DefaultMessagesPerMinute)
	}
	if p := e.relay.pendingCount("ding"); p == 0 {
		t.Errorf("nothing is held back")
	}
	if rj := e.robots.Rejections(dtToken); len(rj) > 0 {
		t.Errorf("rejections: %+v", rj)
	}
}

// An oversized alert is shortened, never rejected.
func TestHugeAlertIsShortened(t *testing.T) {
	e := newEnv(t, nil)
	a := alertN(7, "firing", "critical")
	a.Annotations["summary"] = strings.Repeat("很长的摘要", 2000)
	e.notify(t, "wecom", a)
	e.notify(t, "ding", a)
	for _, r := range []string{wcKey, dtToken} {
		msgs := e.wait(t, r, 10*time.Second, nil)
		if !strings.Contains(msgs[0].Content, "…") {
			t.Errorf("%s: not shortened", r)
		}
		if rj := e.robots.Rejections(r); len(rj) > 0 {
			t.Errorf("%s: rejections %+v", r, rj)
		}
	}
}

// When the platform is down the relay keeps the alerts, retries, and delivers them all when
// it comes back; the retries show in /metrics.
func TestOutageKeepsAlertsAndRecovers(t *testing.T) {
	e := newEnv(t, nil)
	e.robots.SetDown(503)
	for i := range 10 {
		e.notify(t, "wecom", alertN(i, "firing", "warning"))
	}
	time.Sleep(2500 * time.Millisecond)
	if e.robots.Count(wcKey) != 0 {
		t.Fatal("delivered while down")
	}
	if p := e.relay.pendingCount("wecom"); p != 10 {
		t.Fatalf("pending = %d, want 10", p)
	}
	e.robots.SetDown(0)
	msgs := e.wait(t, wcKey, 30*time.Second, func(m []robots.Message) bool { return countTargets(m) >= 10 })
	if n := countTargets(msgs); n != 10 {
		t.Errorf("delivered %d of 10", n)
	}
	var metrics string
	for range 50 { // the robot records a message just before the relay counts it
		if metrics = get(t, e.srv.URL+"/metrics"); strings.Contains(metrics, `llmmon_relay_alerts_delivered_total{receiver="wecom"} 10`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{`llmmon_relay_retries_total{receiver="wecom"}`, `llmmon_relay_messages_failed_total{reason="http_503",receiver="wecom"}`, `llmmon_relay_alerts_delivered_total{receiver="wecom"} 10`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `llmmon_relay_retries_total{receiver="wecom"} 0`) {
		t.Errorf("no retry counted")
	}
}

// A refused message (wrong key) is dropped, counted, and explained in plain words; the key
// never appears in the log or the status.
func TestPermanentErrorIsExplainedAndSecretsStayHidden(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Receivers = append(c.Receivers,
			Receiver{Name: "bad-key", Kind: KindWeCom, URL: strings.Replace(c.Receivers[2].URL, wcKey, "ffffffff-dead-beef-0000-000000000000", 1)},
			Receiver{Name: "bad-sign", Kind: KindDingTalk, URL: c.Receivers[0].URL, Secret: "SECwrong-secret-value"})
	})
	a := alertN(1, "firing", "critical")
	a.Labels[TestLabel] = "t1"
	e.notify(t, "bad-key", a)
	e.notify(t, "bad-sign", a)
	deadline := time.Now().Add(10 * time.Second)
	var res []TestResult
	for time.Now().Before(deadline) {
		if res = e.relay.TestResults("t1"); len(res) == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(res) != 2 {
		t.Fatalf("test results: %+v", res)
	}
	if !strings.Contains(res[1].Error, "DingTalk 310000: signature or keyword mismatch") || res[1].Delivered || res[1].Receiver != "bad-sign" {
		t.Errorf("bad-sign: %+v", res[1])
	}
	if !strings.Contains(res[0].Error, "WeCom 93000: invalid webhook key") || res[0].Delivered || res[0].Receiver != "bad-key" {
		t.Errorf("bad-key: %+v", res[0])
	}
	if p := e.relay.pendingCount("bad-key"); p != 0 {
		t.Errorf("refused alert still pending")
	}
	status := get(t, e.srv.URL+"/api/v1/status")
	all := e.logs.String() + status + get(t, e.srv.URL+"/metrics")
	for _, secret := range []string{"ffffffff-dead-beef", "SECwrong", dtToken, wcKey, dtSecret} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q leaked into logs, status or metrics", secret)
		}
	}
	if !strings.Contains(get(t, e.srv.URL+"/metrics"), `llmmon_relay_alerts_dropped_total{reason="wecom_93000",receiver="bad-key"} 1`) {
		t.Errorf("drop not counted")
	}
}

// Throttling answers (DingTalk 130101) are retried, not dropped.
func TestThrottledIsRetried(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Receivers[1].MessagesPerMinute = -1 })
	// Another sender uses up the robot's minute.
	for range 21 {
		body := `{"msgtype":"text","text":{"content":"LLMOPS other sender"}}`
		resp, err := http.Post(e.base+"/robot/send?access_token=kw-token", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	e.notify(t, "ding-kw", alertN(1, "firing", "critical"))
	time.Sleep(time.Second)
	if p := e.relay.pendingCount("ding-kw"); p != 1 {
		t.Errorf("throttled alert: pending = %d, want 1 (kept for retry)", p)
	}
	m := get(t, e.srv.URL+"/metrics")
	if !strings.Contains(m, `llmmon_relay_messages_failed_total{reason="dingtalk_130101",receiver="ding-kw"} 1`) || !strings.Contains(m, `llmmon_relay_retries_total{receiver="ding-kw"} 1`) {
		t.Errorf("throttle not counted as a retry:\n%s", grep(m, "ding-kw"))
	}
}

// Undelivered alerts survive a restart of the relay.
func TestPendingSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "pending.json")
	e := newEnv(t, func(c *Config) { c.StateFile = state })
	e.robots.SetDown(502)
	for i := range 3 {
		e.notify(t, "ding", alertN(i, "firing", "critical"))
	}
	time.Sleep(1500 * time.Millisecond)
	e.stop()
	e.robots.SetDown(0)
	cfg := *e.relay.cfg
	e.start(t, &cfg)
	msgs := e.wait(t, dtToken, 20*time.Second, func(m []robots.Message) bool { return countTargets(m) >= 3 })
	if n := countTargets(msgs); n != 3 {
		t.Errorf("after restart delivered %d of 3", n)
	}
}

func TestUnknownReceiverIs404(t *testing.T) {
	e := newEnv(t, nil)
	if code := e.notify(t, "nope", alertN(1, "firing", "critical")); code != 404 {
		t.Errorf("HTTP %d, want 404", code)
	}
}

func TestChineseMessages(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Language = "zh" })
	e.notify(t, "ding", alertN(1, "firing", "critical"))
	msgs := e.wait(t, dtToken, 10*time.Second, nil)
	for _, want := range []string{"告警", "当前值", "开始时间", "查看面板", "静默"} {
		if !strings.Contains(msgs[0].Content, want) {
			t.Errorf("zh message lacks %q:\n%s", want, msgs[0].Content)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The rate limit survives a restart: a relay restarted inside the minute does not send more.
func TestRateWindowSurvivesRestart(t *testing.T) {
	state := filepath.Join(t.TempDir(), "pending.json")
	e := newEnv(t, func(c *Config) {
		c.StateFile = state
		c.BatchWait = 10 * time.Millisecond
		c.Receivers[0].MessagesPerMinute = 2
	})
	for i := range 2 {
		e.notify(t, "ding", alertN(i, "firing", "critical"))
		e.wait(t, dtToken, 5*time.Second, func(m []robots.Message) bool { return len(m) > i })
	}
	time.Sleep(1200 * time.Millisecond) // the state is written at most once a second
	e.stop()
	cfg := *e.relay.cfg
	e.start(t, &cfg)
	e.notify(t, "ding", alertN(9, "firing", "critical"))
	time.Sleep(1500 * time.Millisecond)
	if n := e.robots.Count(dtToken); n != 2 {
		t.Errorf("%d messages within the minute after a restart, want 2 (the limit)", n)
	}
	if p := e.relay.pendingCount("ding"); p != 1 {
		t.Errorf("pending = %d, want 1", p)
	}
}

func TestPendingGaugePerReceiver(t *testing.T) {
	e := newEnv(t, nil)
	e.robots.SetDown(503)
	e.notify(t, "wecom", alertN(1, "firing", "critical"), alertN(2, "firing", "critical"))
	if m := get(t, e.srv.URL+"/metrics"); !strings.Contains(m, `llmmon_relay_pending_alerts{receiver="wecom"} 2`) || !strings.Contains(m, `llmmon_relay_pending_alerts{receiver="ding"} 0`) {
		t.Errorf("pending gauge:\n%s", grep(m, "pending"))
	}
}

// pendingCount is the number of alerts waiting for receiver name.
func (r *Relay) pendingCount(name string) int {
	r.mu.Lock()
	q := r.queues[name]
	r.mu.Unlock()
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}
