// Command relay measures llmmon's notification relay, run as its own process (`llmmon relay`)
// exactly as in the stack:
//
//   - throughput: alerts per second delivered, with the robots' rate limit lifted so that the
//     relay itself is the bottleneck;
//   - an alert storm: 500 alerts posted at once to a real Alertmanager (llmmon's grouping, one
//     group per alert, 5 s group wait) that notifies the relay, which delivers to stand-ins
//     enforcing DingTalk's and WeCom's contracts (20 messages a minute, byte limits, signature).
//     It reports the messages sent, the time until the last delivery, the alerts delivered
//     (must be 500) and the relay's peak memory.
//
// Baseline, measured in the same run from the same Alertmanager: a direct bridge that posts one
// robot message per notification, as the usual webhook-to-DingTalk bridges do.
//
// Run: make bench-relay (about 1 minute).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/bench/internal/benchkit"
	"github.com/llmmon/llmmon/stack/relay"
	"github.com/llmmon/llmmon/test/robots"
	"gopkg.in/yaml.v3"
)

const (
	dtToken  = "bench-dingtalk-token"
	dtSecret = "SECbench-signing-secret"
	wcKey    = "bench0000-0000-4000-8000-000000000000"
)

func main() {
	home, _ := os.UserHomeDir()
	llmmon := flag.String("llmmon", "bin/llmmon", "llmmon binary")
	am := flag.String("alertmanager", filepath.Join(home, ".cache/llmmon-test/bin/alertmanager-0.31.1"), "Alertmanager binary (make test-images builds it)")
	n := flag.Int("n", 20000, "alerts per receiver for the throughput run")
	storm := flag.Int("storm", 500, "alerts in the storm")
	flag.Parse()
	defer benchkit.Exit()
	dir, err := os.MkdirTemp("", "llmmon-bench-relay-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })

	fmt.Println("== relay throughput (robots' rate limit lifted) ==")
	throughput(*llmmon, dir, *n)
	fmt.Println()
	fmt.Printf("== alert storm: %d alerts at once through a real Alertmanager ==\n", *storm)
	stormRun(*llmmon, *am, dir, *storm)
}

// startRelay runs `llmmon relay` and waits until it is ready.
func startRelay(llmmon, dir, name string, cfg relay.Config) (*exec.Cmd, string) {
	b, err := yaml.Marshal(cfg)
	benchkit.Must(err)
	path := filepath.Join(dir, name+".yml")
	benchkit.Must(os.WriteFile(path, b, 0o600))
	cmd := exec.Command(llmmon, "relay", "--config", path)
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	benchkit.Must(err)
	cmd.Stdout, cmd.Stderr = logf, logf
	benchkit.Must(cmd.Start())
	benchkit.AtExit(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + cfg.Listen
	for i := 0; i < 100; i++ {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd, base
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	benchkit.Must(fmt.Errorf("relay did not become ready; see %s", logf.Name()))
	return nil, ""
}

// relayToken is what the benchmark's relays want on every notification (llmmon up generates one
// per stack).
const relayToken = "bench-relay-token"

func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "n/a"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
	}
	return "n/a"
}

var deliveredRe = regexp.MustCompile(`(?m)^llmmon_relay_alerts_delivered_total\{receiver="[^"]+"\} (\S+)$`)

func delivered(base string) int {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0
	for _, m := range deliveredRe.FindAllStringSubmatch(string(b), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		total += int(v)
	}
	return total
}

func receivers(base string, perMinute int) []relay.Receiver {
	return []relay.Receiver{
		{Name: "ding", Kind: relay.KindDingTalk, URL: base + robots.DingTalkPath + "?access_token=" + dtToken, Secret: dtSecret, MessagesPerMinute: perMinute},
		{Name: "wecom", Kind: relay.KindWeCom, URL: base + robots.WeComPath + "?key=" + wcKey, MessagesPerMinute: perMinute},
	}
}

func newRobots(limit bool) (*robots.Server, string) {
	rs := robots.New()
	rs.AddDingTalk(dtToken, robots.DingTalkRobot{Secret: dtSecret})
	rs.AddWeCom(wcKey)
	rs.DisableRateLimit(!limit)
	base, err := rs.Start("127.0.0.1:0")
	benchkit.Must(err)
	benchkit.AtExit(func() { rs.Close() })
	return rs, base
}

func alert(i int, prefix string, at time.Time) map[string]any {
	return map[string]any{
		"status": "firing",
		"labels": map[string]string{"alertname": "LLMServiceDown", "severity": "critical", "target": fmt.Sprintf("%s-%04d", prefix, i), "instance": fmt.Sprintf("10.%d.%d.%d:8000", i/65536%256, i/256%256, i%256)},
		"annotations": map[string]string{
			"summary":   fmt.Sprintf("Model service %s-%04d is down", prefix, i),
			"value":     "0",
			"dashboard": "http://127.0.0.1:3000/d/llmmon-overview/?viewPanel=1&var-target=" + fmt.Sprintf("%s-%04d", prefix, i),
		},
		"startsAt":    at.UTC().Format(time.RFC3339Nano),
		"fingerprint": fmt.Sprintf("%s%08d", prefix, i),
	}
}

func throughput(llmmon, dir string, n int) {
	rs, base := newRobots(false)
	listen := fmt.Sprintf("127.0.0.1:%d", benchkit.FreePort())
	cmd, rbase := startRelay(llmmon, dir, "throughput", relay.Config{Listen: listen, Token: relayToken, Language: "en", Timezone: "UTC", BatchWait: 200 * time.Millisecond, Receivers: receivers(base, -1)})
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				for _, r := range []string{"ding", "wecom"} {
					body, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": r, "externalURL": "http://127.0.0.1:9093", "alerts": []any{alert(i, "tp", start)}})
					req, _ := http.NewRequest(http.MethodPost, rbase+"/v1/notify/"+r, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+relayToken)
					resp, err := client.Do(req)
					benchkit.Must(err)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	accepted := time.Since(start)
	deadline := time.Now().Add(5 * time.Minute)
	for delivered(rbase) < 2*n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	got := delivered(rbase)
	msgs := rs.Count(dtToken) + rs.Count(wcKey)
	fmt.Printf("  alerts posted            %d (%d per receiver, one per notification)\n", 2*n, n)
	fmt.Printf("  accepted in              %s (%.0f notifications/s)\n", accepted.Round(time.Millisecond), float64(2*n)/accepted.Seconds())
	fmt.Printf("  delivered                %d in %s\n", got, elapsed.Round(time.Millisecond))
	fmt.Printf("  throughput               %.0f alerts/s delivered, in %d messages\n", float64(got)/elapsed.Seconds(), msgs)
	fmt.Printf("  relay peak memory        %s\n", peakRSS(cmd.Process.Pid))
}

// bridge is the baseline: one robot message per Alertmanager notification, sent at once.
type bridge struct {
	base string
	mu   sync.Mutex
}

func (b *bridge) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var n relay.Notification
	if err := json.NewDecoder(req.Body).Decode(&n); err != nil {
		w.WriteHeader(400)
		return
	}
	var text strings.Builder
	for _, a := range n.Alerts {
		fmt.Fprintf(&text, "### [%s] %s\n- %s\n", strings.ToUpper(a.Status), a.Labels["alertname"], a.Annotations["summary"])
	}
	var u string
	var body []byte
	if strings.HasSuffix(req.URL.Path, "/wecom") {
		u = b.base + robots.WeComPath + "?key=" + wcKey
		body, _ = json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": text.String()}})
	} else {
		ts := time.Now().UnixMilli()
		u = b.base + robots.DingTalkPath + "?access_token=" + dtToken + "&timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(relay.Sign(dtSecret, ts))
		body, _ = json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": "alert", "text": text.String()}})
	}
	resp, err := http.Post(u, "application/json", bytes.NewReader(body))
	if err == nil {
		resp.Body.Close()
	}
	w.WriteHeader(200) // like most bridges: the platform's errcode is logged, not retried
}

func stormRun(llmmon, amBin, dir string, n int) {
	if _, err := os.Stat(amBin); err != nil {
		benchkit.Must(fmt.Errorf("alertmanager binary %s is missing; run make test-images", amBin))
	}
	rs, base := newRobots(true)
	bs, bbase := newRobots(true)
	_ = bs
	listen := fmt.Sprintf("127.0.0.1:%d", benchkit.FreePort())
	cmd, rbase := startRelay(llmmon, dir, "storm", relay.Config{Listen: listen, Token: relayToken, Language: "en", Timezone: "Asia/Shanghai", Receivers: receivers(base, 0)})

	bport := benchkit.FreePort()
	bsrv := &http.Server{Addr: fmt.Sprintf("127.0.0.1:%d", bport), Handler: &bridge{base: bbase}}
	go bsrv.ListenAndServe()
	benchkit.AtExit(func() { bsrv.Close() })

	amPort := benchkit.FreePort()
	amCfg := fmt.Sprintf(`route:
  receiver: none
  group_by: [alertname, target, instance]
  group_wait: 5s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - {receiver: ding, continue: true}
    - {receiver: wecom, continue: true}
    - {receiver: bridge-ding, continue: true}
    - {receiver: bridge-wecom, continue: true}
receivers:
  - name: none
  - name: ding
    webhook_configs: [{url: "%[1]s/v1/notify/ding", send_resolved: true, http_config: {authorization: {type: Bearer, credentials: %[3]s}}}]
  - name: wecom
    webhook_configs: [{url: "%[1]s/v1/notify/wecom", send_resolved: true, http_config: {authorization: {type: Bearer, credentials: %[3]s}}}]
  - name: bridge-ding
    webhook_configs: [{url: "http://127.0.0.1:%[2]d/ding", send_resolved: true}]
  - name: bridge-wecom
    webhook_configs: [{url: "http://127.0.0.1:%[2]d/wecom", send_resolved: true}]
`, rbase, bport, relayToken)
	amDir := filepath.Join(dir, "am")
	benchkit.Must(os.MkdirAll(amDir, 0o755))
	benchkit.Must(os.WriteFile(filepath.Join(amDir, "alertmanager.yml"), []byte(amCfg), 0o644))
	amCmd := exec.Command(amBin, "--config.file="+filepath.Join(amDir, "alertmanager.yml"), "--storage.path="+amDir, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort), "--cluster.listen-address=")
	logf, _ := os.Create(filepath.Join(dir, "alertmanager.log"))
	amCmd.Stdout, amCmd.Stderr = logf, logf
	benchkit.Must(amCmd.Start())
	benchkit.AtExit(func() { amCmd.Process.Kill(); amCmd.Wait() })
	amURL := fmt.Sprintf("http://127.0.0.1:%d", amPort)
	for i := 0; ; i++ {
		if resp, err := http.Get(amURL + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 200 {
			benchkit.Must(fmt.Errorf("alertmanager did not start; see %s", logf.Name()))
		}
		time.Sleep(50 * time.Millisecond)
	}

	start := time.Now()
	alerts := make([]any, n)
	for i := range alerts {
		a := alert(i, "storm", start)
		delete(a, "fingerprint")
		delete(a, "status")
		alerts[i] = a
	}
	body, _ := json.Marshal(alerts)
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	benchkit.Must(err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		benchkit.Must(fmt.Errorf("alertmanager refused the storm: HTTP %d", resp.StatusCode))
	}

	type result struct {
		msgs, alerts, rejected int
		last                   time.Duration
	}
	measure := func(s *robots.Server, robot string) result {
		var r result
		seen := map[string]bool{}
		for _, m := range s.Messages(robot) {
			r.msgs++
			for i := 0; i < n; i++ {
				if k := fmt.Sprintf("storm-%04d", i); strings.Contains(m.Content, k) && !seen[k] {
					seen[k] = true
					r.last = m.At.Sub(start)
				}
			}
		}
		r.alerts = len(seen)
		r.rejected = len(s.Rejections(robot))
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, robot := range []string{dtToken, wcKey} {
		_, _ = rs.WaitMessages(ctx, robot, func([]robots.Message) bool { return measure(rs, robot).alerts >= n })
	}
	// The bridge gets the same notifications at the same moment; give it the same time.
	time.Sleep(3 * time.Second)

	fmt.Printf("  %-28s %-25s %-25s %-25s %-25s\n", "", "llmmon relay: DingTalk", "llmmon relay: WeCom", "direct bridge: DingTalk", "direct bridge: WeCom")
	rd, rw := measure(rs, dtToken), measure(rs, wcKey)
	bd, bw := measure(bs, dtToken), measure(bs, wcKey)
	row := func(name string, f func(result) string) {
		fmt.Printf("  %-28s %-25s %-25s %-25s %-25s\n", name, f(rd), f(rw), f(bd), f(bw))
	}
	row("messages accepted", func(r result) string { return strconv.Itoa(r.msgs) })
	row("messages refused (throttle)", func(r result) string { return strconv.Itoa(r.rejected) })
	row("alerts delivered", func(r result) string { return fmt.Sprintf("%d of %d", r.alerts, n) })
	row("time to last delivery", func(r result) string {
		if r.alerts < n {
			return "never (alerts lost)"
		}
		return r.last.Round(10 * time.Millisecond).String()
	})
	fmt.Printf("  relay peak memory            %s\n", peakRSS(cmd.Process.Pid))
	fmt.Println("  (time counts from the POST to Alertmanager and includes its 5 s group_wait and the relay's 2 s batch wait)")
	if rd.alerts < n || rw.alerts < n {
		benchkit.Must(fmt.Errorf("the relay delivered %d and %d of %d alerts", rd.alerts, rw.alerts, n))
	}
}
