package stack_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

// testStack plays a running Alertmanager (port 9093) and relay (port 9095) for alert test:
// once the test alerts are posted, the email receiver's attempt succeeds, the webhook's fails,
// and the relay reports DingTalk's answer.
type testStack struct {
	mu     sync.Mutex
	posted [][]map[string]any
	creds  *stack.Credentials
}

func (h *testStack) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	reply := func(body string) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
	}
	// Alertmanager (9093) wants the stack's basic auth, the relay (9095) its token.
	user, pass, _ := r.BasicAuth()
	amOK := user == stack.APIUser && pass == h.creds.APIPassword
	relayOK := r.Header.Get("Authorization") == "Bearer "+h.creds.RelayToken
	if (strings.HasSuffix(r.URL.Host, ":9093") && !amOK) || (strings.HasSuffix(r.URL.Host, ":9095") && !relayOK && r.URL.Path != "/-/ready") {
		return &http.Response{StatusCode: 401, Body: io.NopCloser(strings.NewReader("Unauthorized")), Header: http.Header{}}, nil
	}
	switch {
	case r.URL.Path == "/-/ready":
		return reply("ok")
	case r.URL.Path == "/api/v2/status":
		return reply(`{"config":{"original":"... llmmon_test_receiver ..."}}`)
	case r.URL.Path == "/api/v2/alerts" && r.Method == http.MethodPost:
		var alerts []map[string]any
		_ = json.NewDecoder(r.Body).Decode(&alerts)
		h.posted = append(h.posted, alerts)
		return reply("")
	case r.URL.Path == "/metrics":
		n := 0
		if len(h.posted) > 0 {
			n = 1
		}
		// The webhook's attempt is counted, and its failure too; the email's only as an attempt.
		return reply(strings.Join([]string{
			"# TYPE alertmanager_notification_requests_total counter",
			`alertmanager_notification_requests_total{integration="email",receiver_name="mail"} ` + itoa(3+n),
			`alertmanager_notification_requests_total{integration="webhook",receiver_name="hook"} ` + itoa(n),
			"# TYPE alertmanager_notification_requests_failed_total counter",
			`alertmanager_notification_requests_failed_total{integration="email",receiver_name="mail"} 1`,
			`alertmanager_notification_requests_failed_total{integration="webhook",receiver_name="hook"} ` + itoa(n),
			"",
		}, "\n"))
	case r.URL.Path == "/api/v1/status":
		return reply(`[]`)
	case strings.HasPrefix(r.URL.Path, "/api/v1/tests/"):
		return reply(`[{"receiver":"ding","delivered":false,"error":"DingTalk 310000: signature or keyword mismatch","code":310000,"at":"` + time.Now().UTC().Format(time.RFC3339) + `"}]`)
	}
	return &http.Response{StatusCode: 404, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestAlertTestReportsEachReceiver(t *testing.T) {
	text := `name: unit
gpu: off
notify:
  receivers:
    - name: mail
      email: {to: [a@example.com], from: b@example.com, smarthost: "127.0.0.1:25", tls: none}
    - name: hook
      webhook: {url: "https://hooks.example.com/x"}
    - name: ding
      dingtalk: {url: "https://oapi.dingtalk.com/robot/send?access_token=abc", secret: SECabc}
`
	s, _, err := spec.LoadBytes("unit.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s.DataDir = t.TempDir()
	h := &testStack{}
	e := stack.New(render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		stack.WithRuntime(fake.New()), stack.WithHTTPClient(&http.Client{Transport: h}))
	// Without the stack's credentials alert test stops, and creates none.
	if _, err := e.AlertTest(t.Context(), s, stack.AlertTestOptions{Timeout: time.Second}); !errors.Is(err, stack.ErrNoCredentials) {
		t.Fatalf("alert test of a stack without credentials: %v", err)
	}
	if ents, _ := os.ReadDir(s.DataDir); len(ents) != 0 {
		t.Fatalf("alert test wrote into the data directory: %v", ents)
	}
	if h.creds, err = stack.EnsureCredentials(s); err != nil {
		t.Fatal(err)
	}
	var progress []string
	res, err := e.AlertTest(t.Context(), s, stack.AlertTestOptions{Timeout: 5 * time.Second, Progress: func(r stack.AlertTestResult) { progress = append(progress, r.Receiver) }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]stack.AlertTestResult{}
	for _, r := range res {
		got[r.Receiver] = r
	}
	if r := got["mail"]; r.Outcome != stack.OutcomeDelivered || r.Kind != "email" {
		t.Errorf("mail: %+v", r)
	}
	if r := got["hook"]; r.Outcome != stack.OutcomeFailed {
		t.Errorf("hook: %+v", r)
	}
	if r := got["ding"]; r.Outcome != stack.OutcomeFailed || !strings.Contains(r.Detail, "310000") {
		t.Errorf("ding: %+v", r)
	}
	if len(progress) != 3 {
		t.Errorf("progress for %v", progress)
	}
	// One alert per receiver, routed by its label, then the same alerts resolved.
	if len(h.posted) != 2 || len(h.posted[0]) != 3 || len(h.posted[1]) != 3 {
		t.Fatalf("posted %d batches", len(h.posted))
	}
	first := h.posted[0][0]["labels"].(map[string]any)
	if first[render.TestReceiverLabel] != "mail" || first[render.TestLabel] == "" || first["alertname"] != "LLMMonTestAlert" {
		t.Errorf("labels %v", first)
	}
	if _, ok := h.posted[1][0]["endsAt"]; !ok {
		t.Errorf("the test alerts were not resolved")
	}

	// An unknown receiver is a usage error naming the ones there are.
	if _, err := e.AlertTest(t.Context(), s, stack.AlertTestOptions{Receivers: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "mail, hook, ding") {
		t.Errorf("unknown receiver: %v", err)
	}
}
