package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/llmmon/llmmon/test/robots"
)

func TestParseDingTalk(t *testing.T) {
	for _, c := range []struct {
		in, token, secret string
		keywords          []string
		err               bool
	}{
		{in: "tok", token: "tok"},
		{in: "tok:SECx", token: "tok", secret: "SECx"},
		{in: "tok:SECx:alert", token: "tok", secret: "SECx", keywords: []string{"alert"}},
		{in: "tok::alert,告警", token: "tok", keywords: []string{"alert", "告警"}},
		{in: "tok::a:b", token: "tok", keywords: []string{"a:b"}},
		{in: ":SECx", err: true},
		{in: "", err: true},
	} {
		token, r, err := parseDingTalk(c.in)
		if (err != nil) != c.err || token != c.token || r.Secret != c.secret || !slices.Equal(r.Keywords, c.keywords) {
			t.Errorf("parseDingTalk(%q) = %q, %+v, %v", c.in, token, r, err)
		}
	}
}

// TestCommand builds the command, runs it and sends it one message per platform.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "robots")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-dingtalk", "tok:SECtest:alert", "-dingtalk", "t2", "-wecom", "k1")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				base <- m[1]
			}
		}
	}()
	var u string
	select {
	case u = <-base:
	case <-time.After(20 * time.Second):
		t.Fatal("no listening line on stderr")
	}
	ts := time.Now().UnixMilli()
	send := func(url string, body string) {
		resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `{"errcode":0,"errmsg":"ok"}` {
			t.Fatalf("%s: %s", url, b)
		}
	}
	send(u+robots.DingTalkPath+"?access_token=tok&timestamp="+strconv.FormatInt(ts, 10)+"&sign="+url.QueryEscape(robots.DingTalkSign("SECtest", ts)),
		`{"msgtype":"text","text":{"content":"alert <GPU>"}}`)
	send(u+robots.WeComPath+"?key=k1", `{"msgtype":"markdown","markdown":{"content":"**down**"}}`)
	dec := json.NewDecoder(stdout)
	for i, want := range []struct{ platform, content string }{{"dingtalk", "alert <GPU>"}, {"wecom", "**down**"}} {
		var line struct {
			Platform, Robot, Content string
			Raw                      map[string]any
		}
		if err := dec.Decode(&line); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if line.Platform != want.platform || line.Content != want.content || line.Raw["msgtype"] == nil {
			t.Fatalf("line %d: %+v", i, line)
		}
	}
}
