package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/test/robots"
)

// TestIntegrationRelayDelivery: the real Alertmanager of the stack posts to llmmon's relay
// (a container built from this very binary), which delivers to stand-ins for DingTalk and
// WeCom that enforce the platforms' documented contracts (signature, keyword, byte limits,
// 20 messages a minute, error codes). alert test reports per receiver; a wrong key is put in
// plain words; a relay that loses its upstream keeps the alert across a restart and delivers
// it when the platform is back; no secret leaks into status, logs or container metadata.
func TestIntegrationRelayDelivery(t *testing.T) {
	rs := robots.New()
	const (
		dingSecret = "SECe2e-signing-secret-5f2d"
		dingToken  = "e2e-ding-token-7a1c"
		kwToken    = "e2e-keyword-token-3b9e"
		wecomKey   = "0b1e2e00-aaaa-4bbb-8ccc-e2e000000001"
	)
	rs.AddDingTalk(dingToken, robots.DingTalkRobot{Secret: dingSecret})
	rs.AddDingTalk(kwToken, robots.DingTalkRobot{Keywords: []string{"LLMOPS"}})
	rs.AddWeCom(wecomKey)
	rs.AddWeComApp("wwe2ecorp", "e2e-app-secret-91c4", "1000002")
	base, err := rs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	t.Setenv("E2E_DING_SECRET", dingSecret)
	t.Setenv("E2E_WECOM_URL", base+"/cgi-bin/webhook/send?key="+wecomKey)
	t.Setenv("E2E_WECOM_APP_SECRET", "e2e-app-secret-91c4")

	receivers := fmt.Sprintf(`targets:
  - {name: vllm-down, engine: vllm, url: "127.0.0.1:%d"}
notify:
  receivers:
    - name: ding-signed
      dingtalk: {url: "%s/robot/send?access_token=%s", secret: "${E2E_DING_SECRET}", at_mobiles: ["13800000000"]}
    - name: ding-keyword
      dingtalk: {url: "%s/robot/send?access_token=%s", keyword: LLMOPS}
    - name: wecom
      wecom: {url: "${E2E_WECOM_URL}"}
    - name: wecom-app
      wecom_app: {corp_id: wwe2ecorp, agent_id: "1000002", secret: "${E2E_WECOM_APP_SECRET}", to_party: "2", api_url: "%s/cgi-bin/"}
`, freePort(t), base, dingToken, base, kwToken, base)
	routes := "  route:\n    critical: [ding-signed, ding-keyword, wecom, wecom-app]\n"
	e := newStack(t, receivers+routes+"report: {schedule: \"mon 09:00\", receivers: [ding-signed, ding-keyword, wecom]}\n")

	if code, out := e.run(t, "up"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	cs := e.containers(t)
	if cs["relay"] == "" {
		t.Fatalf("no relay container: %v", cs)
	}

	// The real path: the target is down, LLMServiceDown fires, every robot gets it.
	for _, robot := range []string{dingToken, kwToken, wecomKey} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		msgs, err := rs.WaitMessages(ctx, robot, func(m []robots.Message) bool {
			for _, x := range m {
				if strings.Contains(x.Content, "LLMServiceDown") && strings.Contains(x.Content, "vllm-down") {
					return true
				}
			}
			return false
		})
		cancel()
		if err != nil {
			_, logs := dockerLogs(cs["relay"])
			t.Fatalf("robot %s: no LLMServiceDown message: %v; rejections %+v\nrelay log:\n%s", robot, err, rs.Rejections(robot), logs)
		}
		m := msgs[len(msgs)-1]
		for _, want := range []string{"critical", "Value: 0", "/#/silences/new?filter=", "/d/llmmon-overview/"} {
			if !strings.Contains(m.Content, want) {
				t.Errorf("robot %s: message lacks %q:\n%s", robot, want, m.Content)
			}
		}
		if robot == dingToken && (len(m.AtMobiles) != 1 || !strings.Contains(m.Content, "@13800000000")) {
			t.Errorf("signed robot: no @mention: %v\n%s", m.AtMobiles, m.Content)
		}
		if robot == kwToken && !strings.Contains(m.Title+m.Content, "LLMOPS") {
			t.Errorf("keyword robot: keyword missing")
		}
	}
	for _, robot := range []string{dingToken, kwToken, wecomKey} {
		if rj := rs.Rejections(robot); len(rj) > 0 {
			t.Errorf("robot %s rejected messages: %+v", robot, rj)
		}
	}

	// WeCom application messages: Alertmanager's own wechat notifier, against the stand-in of
	// WeCom's gettoken and message/send API.
	{
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		msgs, err := rs.WaitMessages(ctx, "1000002", func(m []robots.Message) bool { return countContaining(m, "LLMServiceDown") > 0 })
		cancel()
		if err != nil {
			t.Fatalf("wecom_app: no LLMServiceDown message: %v; rejections %+v", err, rs.Rejections("1000002"))
		}
		if m := msgs[len(msgs)-1]; m.MsgType != "markdown" || !strings.Contains(m.Content, "vllm-down") {
			t.Errorf("wecom_app message: %+v", m)
		}
	}

	// alert test: every receiver reports delivered.
	code, out := e.run(t, "alert", "test", "--timeout", "60s")
	if code != 0 || strings.Count(out, "delivered") != 4 {
		t.Fatalf("alert test: exit %d\n%s", code, out)
	}

	// The service report, sent now the way the schedule sends it: a summary with the link to
	// Grafana, signed for the signed robot, with the keyword for the keyword robot.
	code, out = e.run(t, "report", "--send")
	if code != 0 || strings.Count(out, " sent") != 3 {
		_, logs := dockerLogs(cs["relay"])
		t.Fatalf("report --send: exit %d\n%s\nrelay log:\n%s", code, out, logs)
	}
	for _, robot := range []string{dingToken, kwToken, wecomKey} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		msgs, err := rs.WaitMessages(ctx, robot, func(m []robots.Message) bool { return countContaining(m, "LLM service report") > 0 })
		cancel()
		if err != nil {
			t.Fatalf("robot %s: no report: %v; rejections %+v", robot, err, rs.Rejections(robot))
		}
		m := msgs[len(msgs)-1]
		for _, want := range []string{"**vllm-down**", "uptime 0.00 %", "Alerts that fired", "/d/llmmon-overview/?from="} {
			if !strings.Contains(m.Content, want) {
				t.Errorf("robot %s: the report lacks %q:\n%s", robot, want, m.Content)
			}
		}
		if m.MsgType != "markdown" || (robot == kwToken && !strings.Contains(m.Content, "LLMOPS")) {
			t.Errorf("robot %s: report message %s, keyword present: %v", robot, m.MsgType, strings.Contains(m.Content, "LLMOPS"))
		}
	}

	// A wrong WeCom key is a failed receiver, explained in plain words (exit 1).
	e.write(t, receivers+`    - name: wecom-wrong-key
      wecom: {url: "`+base+`/cgi-bin/webhook/send?key=ffffffff-0000-4000-8000-000000000000"}
    - name: wecom-app-wrong-secret
      wecom_app: {corp_id: wwe2ecorp, agent_id: "1000002", secret: wrong, to_user: "@all", api_url: "`+base+`/cgi-bin/"}
`+routes)
	if code, out := e.run(t, "up"); code != 0 {
		t.Fatalf("up with a new receiver: exit %d\n%s", code, out)
	}
	code, out = e.run(t, "alert", "test", "--receiver", "wecom-wrong-key", "--timeout", "30s")
	if code != 1 || !strings.Contains(out, "WeCom 93000: invalid webhook key") {
		t.Fatalf("alert test of a wrong key: exit %d\n%s", code, out)
	}
	code, out = e.run(t, "alert", "test", "--receiver", "wecom-app-wrong-secret", "--timeout", "30s")
	if code != 1 || !strings.Contains(out, "WeCom rejected the corp id or the app secret") || strings.Contains(out, "wrong,") {
		t.Fatalf("alert test of a wrong app secret: exit %d\n%s", code, out)
	}
	if _, status := e.run(t, "status"); !regexp.MustCompile(`wecom-wrong-key\s+wecom\s+0\s+1\s+0\s+WeCom 93000`).MatchString(status) {
		t.Errorf("status does not show the wrong key's failure:\n%s", status)
	}
	if code, out := e.run(t, "alert", "test", "--receiver", "nope"); code != 2 || !strings.Contains(out, `unknown receiver "nope"`) {
		t.Errorf("unknown receiver: exit %d\n%s", code, out)
	}

	// The platform goes down: the relay keeps the alert, also across a restart of its
	// container, and delivers it when the platform is back.
	rs.SetDown(503)
	before := countContaining(rs.Messages(wecomKey), "LLMMonTestAlert")
	code, out = e.run(t, "alert", "test", "--receiver", "wecom", "--timeout", "10s")
	if code != 1 || !strings.Contains(out, "HTTP 503") {
		t.Fatalf("alert test during an outage: exit %d\n%s", code, out)
	}
	if out, err := exec.Command("docker", "restart", cs["relay"]).CombinedOutput(); err != nil {
		t.Fatalf("restart relay: %v\n%s", err, out)
	}
	rs.SetDown(0)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := rs.WaitMessages(ctx, wecomKey, func(m []robots.Message) bool { return countContaining(m, "LLMMonTestAlert") > before }); err != nil {
		_, logs := dockerLogs(cs["relay"])
		t.Fatalf("the alert kept during the outage was not delivered: %v\nrelay log:\n%s", err, logs)
	}

	// Secrets: not in status, container metadata, logs; the relay's file is 0600.
	_, status := e.run(t, "status")
	inspect, _ := exec.Command("docker", "inspect", cs["relay"], cs["alertmanager"]).CombinedOutput()
	_, relayLogs := dockerLogs(cs["relay"])
	_, amLogs := dockerLogs(cs["alertmanager"])
	for _, secret := range []string{dingSecret, dingToken, kwToken, wecomKey} {
		for what, text := range map[string]string{"status": status, "docker inspect": string(inspect), "relay log": relayLogs, "alertmanager log": amLogs} {
			if strings.Contains(text, secret) {
				t.Errorf("secret %q appears in %s", secret, what)
			}
		}
	}
	if !strings.Contains(status, "relay") {
		t.Errorf("status does not show the relay:\n%s", status)
	}
	// From a shell without the secrets: status and down work, up refuses and names the variable.
	os.Unsetenv("E2E_DING_SECRET")
	if code, out := e.run(t, "status"); code == 2 {
		t.Errorf("status without the secret's variable: exit 2\n%s", out)
	}
	if code, out := e.run(t, "up"); code != 2 || !strings.Contains(out, "environment variable E2E_DING_SECRET is not set") {
		t.Errorf("up without the secret's variable: exit %d\n%s", code, out)
	}
	st, err := os.Stat(filepath.Join(e.dir, "data", "generated", "relay", "relay.yml"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("relay.yml: %v, mode %v; want 0600", err, st.Mode())
	}
	gpuExporterImage(t, cs["relay"])
}

// gpuExporterImage: the image llmmon built of its own binary also runs the GPU exporter, whose
// nvidia-smi (which Docker's NVIDIA runtime puts into the container on a GPU host) is a
// dynamically linked program: a stand-in nvidia-smi, compiled here against the host's C library
// and printing a real H200 capture, runs in it, and the exporter serves that GPU's readings.
func gpuExporterImage(t *testing.T, relay string) {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.Config.Image}}", relay).Output()
	if err != nil {
		t.Fatalf("relay image: %v", err)
	}
	image := strings.TrimSpace(string(out))
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		testenv.SkipOrFail(t, "gcc is not installed (Debian's gcc builds the stand-in nvidia-smi)")
	}
	capture, err := os.ReadFile(filepath.Join(testenv.Root(), "test", "testdata", "gpu", "linux-x86_64__nvidia-h200__590.48.01.load.query-gpu.csv"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "#include <stdio.h>\nint main(void) { fputs(" + strconv.Quote(string(capture)) + ", stdout); return 0; }\n"
	if err := os.WriteFile(filepath.Join(dir, "smi.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	smi := filepath.Join(dir, "nvidia-smi")
	if out, err := exec.Command(gcc, "-O1", "-o", smi, filepath.Join(dir, "smi.c")).CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in nvidia-smi: %v\n%s", err, out)
	}
	port := freePort(t)
	name := "llmmon-e2e-gpu-exporter"
	exec.Command("docker", "rm", "-f", name).Run()
	if out, err := exec.Command("docker", "run", "-d", "--name", name, "--network", "host", "-v", smi+":/usr/bin/nvidia-smi:ro", image,
		"gpu-exporter", fmt.Sprintf("--listen=127.0.0.1:%d", port), "--nvidia-smi=/usr/bin/nvidia-smi").CombinedOutput(); err != nil {
		t.Fatalf("run the exporter: %v\n%s", err, out)
	}
	defer exec.Command("docker", "rm", "-f", name).Run()
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := ""
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		if strings.Contains(body, "nvidia_smi_command_exit_code 0") && strings.Contains(body, `nvidia_smi_memory_used_bytes{uuid="00000000-0000-0000-0000-000000000000"} 3.3934016512e+10`) {
			return
		}
		if time.Now().After(deadline) {
			_, logs := dockerLogs(name)
			t.Fatalf("the exporter in %s does not serve the GPU's readings:\n%s\nlog:\n%s", image, body, logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func countContaining(msgs []robots.Message, s string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Content, s) {
			n++
		}
	}
	return n
}

func dockerLogs(id string) (error, string) {
	out, err := exec.Command("docker", "logs", id).CombinedOutput()
	return err, string(out)
}
