package robots

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Independent DingTalk signature vector, computed outside Go with
//
//	printf '%s\n%s' 1700000000000 SECtest | openssl dgst -sha256 -hmac SECtest -binary | base64
//
// (OpenSSL 3, HMAC-SHA256 with key "SECtest" over "1700000000000\nSECtest", base64-encoded).
const (
	vecSecret = "SECtest"
	vecTS     = int64(1700000000000)
	vecSign   = "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g="
)

// clock is a fake clock for SetNow.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock(t time.Time) *clock    { return &clock{t: t} }
func t0() time.Time                  { return time.UnixMilli(vecTS) }
func qs(kv ...string) url.Values     { v := url.Values{}; addPairs(v, kv); return v }
func addPairs(v url.Values, kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
}

// setup returns a Server on the fake clock (at vecTS) behind an httptest server.
func setup(t *testing.T) (*Server, string, *clock) {
	t.Helper()
	s := New()
	clk := newClock(t0())
	s.SetNow(clk.Now)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL, clk
}

type result struct {
	Status int
	Body   string
	Code   int
	Msg    string
}

// post sends body to rawURL and decodes the platform answer when the status is 200.
func post(t *testing.T, rawURL string, body []byte) result {
	t.Helper()
	resp, err := http.Post(rawURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading answer: %v", err)
	}
	r := result{Status: resp.StatusCode, Body: string(b)}
	if resp.StatusCode == http.StatusOK {
		var v struct {
			Code *int    `json:"errcode"`
			Msg  *string `json:"errmsg"`
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Code == nil || v.Msg == nil {
			t.Fatalf("POST %s: answer %q is not {errcode, errmsg} JSON (%v)", rawURL, b, err)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		r.Code, r.Msg = *v.Code, *v.Msg
	}
	return r
}

func dtURL(base string, q url.Values) string { return base + DingTalkPath + "?" + q.Encode() }
func wcURL(base, key string) string          { return base + WeComPath + "?" + qs("key", key).Encode() }
func signedQ(token, secret string, ts int64) url.Values {
	return qs("access_token", token, "timestamp", strconv.FormatInt(ts, 10), "sign", DingTalkSign(secret, ts))
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dtText(content string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "text", "text": map[string]string{"content": content}})
	return b
}

func dtMarkdown(title, text string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": text}})
	return b
}

func wcText(content string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "text", "text": map[string]string{"content": content}})
	return b
}

func wcMarkdown(content string) []byte {
	b, _ := json.Marshal(map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": content}})
	return b
}

// sizedText returns a valid DingTalk text body of exactly n bytes.
func sizedText(t *testing.T, n int) []byte {
	t.Helper()
	const pre, post = `{"msgtype":"text","text":{"content":"`, `"}}`
	b := []byte(pre + strings.Repeat("x", n-len(pre)-len(post)) + post)
	if len(b) != n || !json.Valid(b) {
		t.Fatalf("sizedText(%d): got %d bytes", n, len(b))
	}
	return b
}

func expect(t *testing.T, what string, r result, code int, msgPrefix string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: HTTP %d %q, want 200", what, r.Status, r.Body)
	}
	if r.Code != code || !strings.HasPrefix(r.Msg, msgPrefix) {
		t.Fatalf("%s: got errcode %d %q, want %d %q…", what, r.Code, r.Msg, code, msgPrefix)
	}
}

const (
	signMsg    = "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
	keywordMsg = "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
)

func TestDingTalkSignIndependentVector(t *testing.T) {
	if got := DingTalkSign(vecSecret, vecTS); got != vecSign {
		t.Fatalf("DingTalkSign(%q, %d) = %q, want the openssl vector %q", vecSecret, vecTS, got, vecSign)
	}
	s, base, clk := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret})
	clk.Set(t0().Add(30 * time.Minute))
	// The sign from the vector, URL-encoded by hand (no '+', '/' to escape; '=' → %3D).
	u := base + DingTalkPath + "?access_token=tok&timestamp=1700000000000&sign=" + strings.ReplaceAll(vecSign, "=", "%3D")
	expect(t, "vector sign", post(t, u, dtText("hello")), 0, "ok")
	// The same, encoded by url.Values.
	expect(t, "vector sign via url.Values", post(t, dtURL(base, qs("access_token", "tok", "timestamp", "1700000000000", "sign", vecSign)), dtText("again")), 0, "ok")
	if n := len(s.Messages("tok")); n != 2 {
		t.Fatalf("%d messages, want 2", n)
	}
}

func TestDingTalkSignRejections(t *testing.T) {
	s, base, clk := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret})
	ts := strconv.FormatInt(vecTS, 10)
	cases := []struct {
		name string
		q    url.Values
		now  time.Time
		code int
	}{
		{"good", qs("access_token", "tok", "timestamp", ts, "sign", vecSign), t0(), 0},
		{"exactly 1h old", qs("access_token", "tok", "timestamp", ts, "sign", vecSign), t0().Add(time.Hour), 0},
		{"exactly 1h ahead", qs("access_token", "tok", "timestamp", ts, "sign", vecSign), t0().Add(-time.Hour), 0},
		{"stale >1h", qs("access_token", "tok", "timestamp", ts, "sign", vecSign), t0().Add(time.Hour + time.Millisecond), 310000},
		{"stale 2h", qs("access_token", "tok", "timestamp", ts, "sign", vecSign), t0().Add(2 * time.Hour), 310000},
		{"future >1h", qs("access_token", "tok", "timestamp", ts, "sign", vecSign), t0().Add(-time.Hour - time.Millisecond), 310000},
		{"wrong sign", qs("access_token", "tok", "timestamp", ts, "sign", DingTalkSign("SECother", vecTS)), t0(), 310000},
		{"sign of another timestamp", qs("access_token", "tok", "timestamp", ts, "sign", DingTalkSign(vecSecret, vecTS+1)), t0(), 310000},
		{"sign not base64 form", qs("access_token", "tok", "timestamp", ts, "sign", strings.TrimRight(vecSign, "=")), t0(), 310000},
		{"missing sign", qs("access_token", "tok", "timestamp", ts), t0(), 310000},
		{"missing timestamp", qs("access_token", "tok", "sign", vecSign), t0(), 310000},
		{"timestamp not a number", qs("access_token", "tok", "timestamp", "soon", "sign", vecSign), t0(), 310000},
		{"timestamp in seconds", qs("access_token", "tok", "timestamp", strconv.FormatInt(vecTS/1000, 10), "sign", DingTalkSign(vecSecret, vecTS/1000)), t0(), 310000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk.Set(c.now)
			r := post(t, dtURL(base, c.q), dtText("x"))
			if c.code == 0 {
				expect(t, c.name, r, 0, "ok")
			} else {
				expect(t, c.name, r, 310000, signMsg)
				if r.Msg != signMsg {
					t.Fatalf("errmsg %q, want %q", r.Msg, signMsg)
				}
			}
		})
	}
	if got, want := len(s.Messages("tok")), 3; got != want {
		t.Errorf("%d messages, want %d", got, want)
	}
	rej := s.Rejections("tok")
	if len(rej) != len(cases)-3 {
		t.Fatalf("%d rejections, want %d", len(rej), len(cases)-3)
	}
	for _, r := range rej {
		if r.Code != 310000 || r.Platform != PlatformDingTalk || r.Robot != "tok" {
			t.Errorf("rejection %+v", r)
		}
	}
}

// A client that puts the sign in the query without URL-encoding it loses every '+' to a space.
func TestDingTalkSignMustBeURLEncoded(t *testing.T) {
	s, base, clk := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret})
	ts := vecTS
	for !strings.Contains(DingTalkSign(vecSecret, ts), "+") {
		ts++
	}
	clk.Set(time.UnixMilli(ts))
	sign := DingTalkSign(vecSecret, ts)
	raw := fmt.Sprintf("%s%s?access_token=tok&timestamp=%d&sign=", base, DingTalkPath, ts)
	expect(t, "unencoded sign with '+'", post(t, raw+sign, dtText("x")), 310000, signMsg)
	expect(t, "encoded sign", post(t, raw+url.QueryEscape(sign), dtText("x")), 0, "ok")
}

func TestDingTalkNoSecretIgnoresSign(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("plain", DingTalkRobot{})
	expect(t, "no secret, bogus sign", post(t, dtURL(base, qs("access_token", "plain", "timestamp", "1", "sign", "nonsense")), dtText("x")), 0, "ok")
}

func TestDingTalkKeywords(t *testing.T) {
	s, base, clk := setup(t)
	s.AddDingTalk("kw", DingTalkRobot{Keywords: []string{"告警", "alert"}})
	s.AddDingTalk("both", DingTalkRobot{Secret: vecSecret, Keywords: []string{"alert"}})
	u := dtURL(base, qs("access_token", "kw"))
	link := mustJSON(t, map[string]any{"msgtype": "link", "link": map[string]string{"title": "alert", "text": "t", "messageUrl": "https://example.com/"}})
	card := mustJSON(t, map[string]any{"msgtype": "actionCard", "actionCard": map[string]string{"title": "t", "text": "GPU 告警"}})
	linkNo := mustJSON(t, map[string]any{"msgtype": "link", "link": map[string]string{"title": "t", "text": "t", "messageUrl": "https://example.com/"}})
	for _, c := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"text without keyword", dtText("GPU hot"), false},
		{"text keyword wrong case", dtText("ALERT: GPU hot"), false},
		{"text with keyword", dtText("alert: GPU hot"), true},
		{"text with other keyword", dtText("GPU 告警"), true},
		{"markdown without keyword", dtMarkdown("GPU", "hot"), false},
		{"markdown keyword in title", dtMarkdown("告警", "hot"), true},
		{"markdown keyword in text", dtMarkdown("GPU", "**alert** hot"), true},
		{"link keyword in title", link, true},
		{"link without keyword", linkNo, false},
		{"actionCard keyword in text", card, true},
	} {
		r := post(t, u, c.body)
		if c.ok {
			expect(t, c.name, r, 0, "ok")
		} else {
			expect(t, c.name, r, 310000, keywordMsg)
		}
	}
	if got := len(s.Messages("kw")); got != 6 {
		t.Errorf("%d messages, want 6", got)
	}
	// Signed and keyword mode: the sign is checked first, then the keywords.
	clk.Set(t0())
	expect(t, "both: bad sign", post(t, dtURL(base, signedQ("both", "SECwrong", vecTS)), dtText("nothing")), 310000, signMsg)
	expect(t, "both: good sign, no keyword", post(t, dtURL(base, signedQ("both", vecSecret, vecTS)), dtText("nothing")), 310000, keywordMsg)
	expect(t, "both: good sign and keyword", post(t, dtURL(base, signedQ("both", vecSecret, vecTS)), dtText("alert")), 0, "ok")
}

func TestDingTalkUnknownToken(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	expect(t, "bad token", post(t, dtURL(base, qs("access_token", "nope")), dtText("x")), 300001, "token is not exist")
	expect(t, "no token", post(t, base+DingTalkPath, dtText("x")), 300001, "token is not exist")
	expect(t, "bad token, bad body", post(t, dtURL(base, qs("access_token", "nope")), []byte("{")), 300001, "token is not exist")
	// A WeCom key is not a DingTalk token.
	s.AddWeCom("wkey")
	expect(t, "wecom key on dingtalk", post(t, dtURL(base, qs("access_token", "wkey")), dtText("x")), 300001, "token is not exist")
	if r := s.Rejections("nope"); len(r) != 2 || r[0].Code != 300001 || r[0].Msg != "token is not exist" {
		t.Errorf("rejections for unknown token: %+v", r)
	}
	if len(s.Messages("nope")) != 0 || len(s.Messages("tok")) != 0 {
		t.Error("messages recorded for rejected calls")
	}
}

func TestDingTalkBodyLimit(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	s.AddDingTalk("kw", DingTalkRobot{Keywords: []string{"alert"}})
	u := dtURL(base, qs("access_token", "tok"))
	expect(t, "20000 bytes", post(t, u, sizedText(t, 20000)), 0, "ok")
	expect(t, "20001 bytes", post(t, u, sizedText(t, 20001)), 460101, "message too long, exceed 20000 bytes")
	expect(t, "1 MB", post(t, u, sizedText(t, 1<<20)), 460101, "message too long, exceed 20000 bytes")
	expect(t, "6 MB", post(t, u, sizedText(t, 6<<20)), 460101, "message too long, exceed 20000 bytes")
	expect(t, "20001 bytes of garbage", post(t, u, bytes.Repeat([]byte("{"), 20001)), 460101, "message too long")
	// Size is checked before keywords.
	expect(t, "20001 bytes without keyword", post(t, dtURL(base, qs("access_token", "kw")), sizedText(t, 20001)), 460101, "message too long")
	m := s.Messages("tok")
	if len(m) != 1 || m[0].BodyBytes != 20000 || len(m[0].Raw) != 20000 {
		t.Fatalf("messages: %d, want one of 20000 bytes", len(m))
	}
}

func TestDingTalkBadParams(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	u := dtURL(base, qs("access_token", "tok"))
	for name, body := range map[string]string{
		"empty body":               ``,
		"not json":                 `hello`,
		"truncated":                `{"msgtype":"text","text":{"content":"x"}`,
		"trailing garbage":         `{"msgtype":"text","text":{"content":"x"}} x`,
		"null":                     `null`,
		"array":                    `[]`,
		"missing msgtype":          `{"text":{"content":"x"}}`,
		"msgtype number":           `{"msgtype":5,"text":{"content":"x"}}`,
		"unknown msgtype":          `{"msgtype":"video","text":{"content":"x"}}`,
		"feedCard":                 `{"msgtype":"feedCard","feedCard":{"links":[]}}`,
		"text missing":             `{"msgtype":"text"}`,
		"text null":                `{"msgtype":"text","text":null}`,
		"text wrong type":          `{"msgtype":"text","text":"x"}`,
		"text empty content":       `{"msgtype":"text","text":{"content":""}}`,
		"markdown missing":         `{"msgtype":"markdown"}`,
		"markdown without title":   `{"msgtype":"markdown","markdown":{"text":"x"}}`,
		"markdown empty title":     `{"msgtype":"markdown","markdown":{"title":"","text":"x"}}`,
		"markdown without text":    `{"msgtype":"markdown","markdown":{"title":"x"}}`,
		"markdown text in content": `{"msgtype":"markdown","markdown":{"title":"x","content":"y"}}`,
		"link without text":        `{"msgtype":"link","link":{"title":"x","messageUrl":"https://e/"}}`,
		"actionCard without title": `{"msgtype":"actionCard","actionCard":{"text":"x"}}`,
		"at wrong type":            `{"msgtype":"text","text":{"content":"x"},"at":{"isAtAll":"yes"}}`,
		"atMobiles not a list":     `{"msgtype":"text","text":{"content":"x"},"at":{"atMobiles":"123"}}`,
	} {
		expect(t, name, post(t, u, []byte(body)), 40035, "缺少参数 json")
	}
	if n := len(s.Messages("tok")); n != 0 {
		t.Fatalf("%d messages accepted from bad bodies", n)
	}
}

func TestDingTalkMessageFields(t *testing.T) {
	s, base, clk := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	u := dtURL(base, qs("access_token", "tok"))
	text := mustJSON(t, map[string]any{
		"msgtype": "text", "text": map[string]string{"content": "GPU 0 at 91°C"},
		"at": map[string]any{"atMobiles": []string{"13800000000", "13900000000"}, "atUserIds": []string{"u1"}, "isAtAll": true},
	})
	md := dtMarkdown("LLM alert", "### vLLM down\n- instance: a")
	link := mustJSON(t, map[string]any{"msgtype": "link", "link": map[string]string{"title": "L", "text": "LT", "messageUrl": "https://e/"}})
	card := mustJSON(t, map[string]any{"msgtype": "actionCard", "actionCard": map[string]string{"title": "C", "text": "CT", "singleTitle": "Open", "singleURL": "https://e/"}})
	for _, b := range [][]byte{text, md, link, card} {
		expect(t, string(b), post(t, u, b), 0, "ok")
		clk.Add(time.Second)
	}
	m := s.Messages("tok")
	if len(m) != 4 {
		t.Fatalf("%d messages, want 4", len(m))
	}
	m0 := m[0]
	if m0.Platform != "dingtalk" || m0.Robot != "tok" || !m0.At.Equal(t0()) || m0.MsgType != "text" || m0.Title != "" ||
		m0.Content != "GPU 0 at 91°C" || !slices.Equal(m0.AtMobiles, []string{"13800000000", "13900000000"}) ||
		!slices.Equal(m0.AtUserIDs, []string{"u1"}) || !m0.AtAll || m0.BodyBytes != len(text) || !bytes.Equal(m0.Raw, text) ||
		m0.Mentioned != nil || m0.MentionedMobiles != nil {
		t.Errorf("text message: %+v", m0)
	}
	if m[1].MsgType != "markdown" || m[1].Title != "LLM alert" || m[1].Content != "### vLLM down\n- instance: a" || m[1].AtAll || m[1].AtMobiles != nil {
		t.Errorf("markdown message: %+v", m[1])
	}
	if !m[1].At.Equal(t0().Add(time.Second)) {
		t.Errorf("markdown At %v", m[1].At)
	}
	if m[2].MsgType != "link" || m[2].Title != "L" || m[2].Content != "LT" || m[3].MsgType != "actionCard" || m[3].Title != "C" || m[3].Content != "CT" {
		t.Errorf("link/actionCard: %+v %+v", m[2], m[3])
	}
	// Messages returns copies.
	m[0].Raw[0] = 'X'
	m[0].AtMobiles[0] = "changed"
	if again := s.Messages("tok"); again[0].Raw[0] != '{' || again[0].AtMobiles[0] != "13800000000" {
		t.Error("Messages returned shared storage")
	}
	if s.Count("tok") != 4 || s.Count("other") != 0 {
		t.Error("Count")
	}
}

func TestDingTalkRateLimitAndThrottle(t *testing.T) {
	s, base, clk := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	s.AddDingTalk("other", DingTalkRobot{})
	u := dtURL(base, qs("access_token", "tok"))
	start := t0()
	for i := range 20 {
		clk.Set(start.Add(time.Duration(i) * time.Second))
		expect(t, fmt.Sprintf("message %d", i+1), post(t, u, dtText("m")), 0, "ok")
	}
	hit := start.Add(20 * time.Second)
	clk.Set(hit)
	expect(t, "21st in the minute", post(t, u, dtText("m")), 130101, "send too fast, exceed 20 times per minute")
	// Other robots are not affected.
	expect(t, "other robot", post(t, dtURL(base, qs("access_token", "other")), dtText("m")), 0, "ok")
	// The window has slid past all 20 messages, but the robot stays throttled for 10 minutes.
	for _, d := range []time.Duration{time.Second, 61 * time.Second, 5 * time.Minute, 10*time.Minute - time.Millisecond} {
		clk.Set(hit.Add(d))
		expect(t, fmt.Sprintf("throttled at +%v", d), post(t, u, dtText("m")), 130101, "send too fast")
	}
	// Even a request with a bad body is answered 130101 while throttled.
	expect(t, "throttled, bad body", post(t, u, []byte("{")), 130101, "send too fast")
	if n := len(s.Messages("tok")); n != 20 {
		t.Fatalf("%d messages, want 20", n)
	}
	clk.Set(hit.Add(10 * time.Minute))
	// The throttle is over, and none of the rejected calls counted: 20 fresh messages fit.
	for i := range 20 {
		expect(t, fmt.Sprintf("after throttle, message %d", i+1), post(t, u, dtText("m")), 0, "ok")
	}
	expect(t, "after throttle, 21st", post(t, u, dtText("m")), 130101, "send too fast")
	if n := len(s.Messages("tok")); n != 40 {
		t.Fatalf("%d messages, want 40", n)
	}
	rej := s.Rejections("tok")
	if len(rej) != 7 {
		t.Fatalf("%d rejections, want 7: %+v", len(rej), rej)
	}
	for _, r := range rej {
		if r.Code != 130101 || r.Msg != "send too fast, exceed 20 times per minute" {
			t.Errorf("rejection %+v", r)
		}
	}
	if !rej[0].At.Equal(hit) {
		t.Errorf("first rejection at %v, want %v", rej[0].At, hit)
	}
}

func TestDingTalkSlidingWindow(t *testing.T) {
	s, base, clk := setup(t)
	s.AddDingTalk("a", DingTalkRobot{})
	s.AddDingTalk("b", DingTalkRobot{})
	start := t0()
	// a: 20 at once, the next just before the first leaves the window is the 21st.
	ua := dtURL(base, qs("access_token", "a"))
	for range 20 {
		expect(t, "a", post(t, ua, dtText("m")), 0, "ok")
	}
	clk.Set(start.Add(RateWindow - time.Millisecond))
	expect(t, "a: 21st at +59.999s", post(t, ua, dtText("m")), 130101, "send too fast")
	// b: 10 at 0s and 10 at 30s; at 60s the first 10 have left the window.
	ub := dtURL(base, qs("access_token", "b"))
	for _, at := range []time.Duration{0, 30 * time.Second} {
		clk.Set(start.Add(at))
		for range 10 {
			expect(t, "b", post(t, ub, dtText("m")), 0, "ok")
		}
	}
	clk.Set(start.Add(RateWindow))
	for i := range 10 {
		expect(t, fmt.Sprintf("b at +60s, %d", i+1), post(t, ub, dtText("m")), 0, "ok")
	}
	expect(t, "b at +60s, 11th", post(t, ub, dtText("m")), 130101, "send too fast")
}

func TestWeCom(t *testing.T) {
	s, base, clk := setup(t)
	s.AddWeCom("key1")
	u := wcURL(base, "key1")
	text := mustJSON(t, map[string]any{"msgtype": "text", "text": map[string]any{
		"content": "vLLM down", "mentioned_list": []string{"wangqing", "@all"}, "mentioned_mobile_list": []string{"13800001111"}}})
	expect(t, "text", post(t, u, text), 0, "ok")
	clk.Add(time.Second)
	mdMention := mustJSON(t, map[string]any{"msgtype": "markdown", "markdown": map[string]any{
		"content": "**down** <@wangqing>", "mentioned_list": []string{"x"}}})
	expect(t, "markdown", post(t, u, mdMention), 0, "ok")
	m := s.Messages("key1")
	if len(m) != 2 {
		t.Fatalf("%d messages", len(m))
	}
	if m[0].Platform != "wecom" || m[0].Robot != "key1" || m[0].MsgType != "text" || m[0].Content != "vLLM down" ||
		!slices.Equal(m[0].Mentioned, []string{"wangqing", "@all"}) || !slices.Equal(m[0].MentionedMobiles, []string{"13800001111"}) ||
		!m[0].AtAll || m[0].BodyBytes != len(text) || !bytes.Equal(m[0].Raw, text) || !m[0].At.Equal(t0()) {
		t.Errorf("text: %+v", m[0])
	}
	if m[1].MsgType != "markdown" || m[1].Content != "**down** <@wangqing>" || m[1].Mentioned != nil || m[1].AtAll || m[1].Title != "" {
		t.Errorf("markdown: %+v", m[1])
	}
}

func TestWeComErrors(t *testing.T) {
	s, base, _ := setup(t)
	s.AddWeCom("key1")
	s.AddDingTalk("dtok", DingTalkRobot{})
	u := wcURL(base, "key1")
	expect(t, "unknown key", post(t, wcURL(base, "nope"), wcText("x")), 93000, "invalid webhook url, hint: [")
	expect(t, "missing key", post(t, base+WeComPath, wcText("x")), 93000, "invalid webhook url")
	expect(t, "dingtalk token as key", post(t, wcURL(base, "dtok"), wcText("x")), 93000, "invalid webhook url")
	expect(t, "unknown key, bad body", post(t, wcURL(base, "nope"), []byte("{")), 93000, "invalid webhook url")

	expect(t, "markdown 4096", post(t, u, wcMarkdown(strings.Repeat("m", 4096))), 0, "ok")
	expect(t, "markdown 4097", post(t, u, wcMarkdown(strings.Repeat("m", 4097))), 40058, "markdown.content exceed max length 4096. invalid Request Parameter")
	expect(t, "text 2048", post(t, u, wcText(strings.Repeat("t", 2048))), 0, "ok")
	expect(t, "text 2049", post(t, u, wcText(strings.Repeat("t", 2049))), 40058, "text.content exceed max length 2048. invalid Request Parameter")
	// Limits are in UTF-8 bytes: 683 × "告" (3 bytes) = 2049 bytes, 682 × = 2046.
	expect(t, "text 683 CJK chars", post(t, u, wcText(strings.Repeat("告", 683))), 40058, "text.content exceed max length 2048")
	expect(t, "text 682 CJK chars", post(t, u, wcText(strings.Repeat("告", 682))), 0, "ok")
	expect(t, "markdown 1366 CJK chars", post(t, u, wcMarkdown(strings.Repeat("告", 1366))), 40058, "markdown.content exceed max length 4096")
	// JSON escapes count as the decoded bytes: 2048 newlines are 4096 body bytes but 2048 content bytes.
	expect(t, "text 2048 escaped newlines", post(t, u, wcText(strings.Repeat("\n", 2048))), 0, "ok")

	expect(t, "empty text", post(t, u, wcText("")), 44004, "empty content")
	expect(t, "empty markdown", post(t, u, wcMarkdown("")), 44004, "empty content")
	expect(t, "text missing", post(t, u, []byte(`{"msgtype":"text"}`)), 44004, "empty content")
	expect(t, "markdown missing", post(t, u, []byte(`{"msgtype":"markdown","text":{"content":"x"}}`)), 44004, "empty content")

	for name, body := range map[string]string{
		"empty body":       ``,
		"not json":         `msgtype=text`,
		"truncated":        `{"msgtype":"text"`,
		"null":             `null`,
		"array":            `[1]`,
		"missing msgtype":  `{"text":{"content":"x"}}`,
		"unknown msgtype":  `{"msgtype":"sticker","text":{"content":"x"}}`,
		"dingtalk md form": `{"msgtype":"actionCard","actionCard":{"title":"x","text":"y"}}`,
		"text wrong type":  `{"msgtype":"text","text":{"content":5}}`,
	} {
		expect(t, name, post(t, u, []byte(body)), 40008, "invalid message type")
	}
	if n := len(s.Messages("key1")); n != 4 {
		t.Errorf("%d messages, want 4", n)
	}
	if r := s.Rejections("nope"); len(r) != 2 || r[0].Code != 93000 || r[0].Platform != "wecom" {
		t.Errorf("rejections for unknown key: %+v", r)
	}
}

func TestWeComRateLimit(t *testing.T) {
	s, base, clk := setup(t)
	s.AddWeCom("key1")
	s.AddWeCom("key2")
	u := wcURL(base, "key1")
	start := t0()
	for i := range 20 {
		clk.Set(start.Add(time.Duration(i) * time.Second))
		expect(t, fmt.Sprintf("message %d", i+1), post(t, u, wcText("m")), 0, "ok")
	}
	clk.Set(start.Add(20 * time.Second))
	expect(t, "21st", post(t, u, wcText("m")), 45009, "api freq out of limit")
	expect(t, "22nd", post(t, u, wcText("m")), 45009, "api freq out of limit")
	expect(t, "other key", post(t, wcURL(base, "key2"), wcText("m")), 0, "ok")
	clk.Set(start.Add(RateWindow - time.Millisecond))
	expect(t, "just before the first leaves", post(t, u, wcText("m")), 45009, "api freq out of limit")
	// No extended ban: as soon as the first message leaves the window there is room for one.
	clk.Set(start.Add(RateWindow))
	expect(t, "window slid by one", post(t, u, wcText("m")), 0, "ok")
	expect(t, "window full again", post(t, u, wcText("m")), 45009, "api freq out of limit")
	clk.Set(start.Add(RateWindow + 19*time.Second + time.Millisecond))
	// Messages 2..20 (at 1s..19s) have left; only the one at 60s remains: 19 fit.
	for i := range 19 {
		expect(t, fmt.Sprintf("slid, %d", i+1), post(t, u, wcText("m")), 0, "ok")
	}
	expect(t, "slid, full", post(t, u, wcText("m")), 45009, "api freq out of limit")
	if n := len(s.Messages("key1")); n != 40 {
		t.Errorf("%d messages, want 40", n)
	}
	if n := len(s.Rejections("key1")); n != 5 {
		t.Errorf("%d rejections, want 5", n)
	}
}

func TestSetDown(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	s.AddWeCom("key")
	du, wu := dtURL(base, qs("access_token", "tok")), wcURL(base, "key")
	for range 19 {
		expect(t, "dingtalk", post(t, du, dtText("m")), 0, "ok")
		expect(t, "wecom", post(t, wu, wcText("m")), 0, "ok")
	}
	s.SetDown(http.StatusServiceUnavailable)
	for _, u := range []string{du, wu, dtURL(base, qs("access_token", "nope")), wcURL(base, "nope"), base + "/elsewhere"} {
		for range 5 {
			r := post(t, u, dtText("m"))
			if r.Status != http.StatusServiceUnavailable || r.Body != "" {
				t.Fatalf("down: %s answered %d %q, want 503 and no body", u, r.Status, r.Body)
			}
		}
	}
	resp, err := http.Get(du)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("down: GET answered %d", resp.StatusCode)
	}
	s.SetDown(http.StatusBadGateway)
	if r := post(t, wu, wcText("m")); r.Status != http.StatusBadGateway {
		t.Fatalf("SetDown(502): got %d", r.Status)
	}
	s.SetDown(0)
	// Nothing during the outage counted: each robot still has room for exactly one message.
	if s.Count("tok") != 19 || s.Count("key") != 19 || len(s.Rejections("tok")) != 0 || len(s.Rejections("nope")) != 0 {
		t.Fatal("requests during the outage were recorded")
	}
	expect(t, "dingtalk 20th", post(t, du, dtText("m")), 0, "ok")
	expect(t, "wecom 20th", post(t, wu, wcText("m")), 0, "ok")
	expect(t, "dingtalk 21st", post(t, du, dtText("m")), 130101, "send too fast")
	expect(t, "wecom 21st", post(t, wu, wcText("m")), 45009, "api freq out of limit")
}

func TestSetDownInvalid(t *testing.T) {
	for _, st := range []int{-1, 1, 100, 199, 1000} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetDown(%d) did not panic", st)
				}
			}()
			New().SetDown(st)
		}()
	}
}

func TestDisableRateLimit(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	s.AddWeCom("key")
	du, wu := dtURL(base, qs("access_token", "tok")), wcURL(base, "key")
	s.DisableRateLimit(true)
	for i := range 60 {
		expect(t, fmt.Sprintf("dingtalk %d", i), post(t, du, dtText("m")), 0, "ok")
		expect(t, fmt.Sprintf("wecom %d", i), post(t, wu, wcText("m")), 0, "ok")
	}
	s.DisableRateLimit(false)
	// Nothing sent while disabled counts toward the window.
	for range 20 {
		expect(t, "dingtalk", post(t, du, dtText("m")), 0, "ok")
		expect(t, "wecom", post(t, wu, wcText("m")), 0, "ok")
	}
	expect(t, "dingtalk 21st", post(t, du, dtText("m")), 130101, "send too fast")
	expect(t, "wecom 21st", post(t, wu, wcText("m")), 45009, "api freq")
	// A throttle is not applied while the limit is off.
	s.DisableRateLimit(true)
	expect(t, "dingtalk throttled but limit off", post(t, du, dtText("m")), 0, "ok")
	s.DisableRateLimit(false)
	expect(t, "dingtalk throttled again", post(t, du, dtText("m")), 130101, "send too fast")
}

func TestReset(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	du := dtURL(base, qs("access_token", "tok"))
	for range 21 {
		post(t, du, dtText("m"))
	}
	s.Reset()
	if s.Count("tok") != 0 || len(s.Rejections("tok")) != 0 {
		t.Fatal("Reset kept records")
	}
	expect(t, "after reset", post(t, du, dtText("m")), 0, "ok")
}

func TestWaitMessages(t *testing.T) {
	s, base, _ := setup(t)
	s.AddWeCom("key")
	go func() {
		for i := range 3 {
			time.Sleep(20 * time.Millisecond)
			resp, err := http.Post(wcURL(base, "key"), "application/json", bytes.NewReader(wcText(fmt.Sprint("m", i))))
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.WaitMessages(ctx, "key", func(m []Message) bool { return len(m) >= 3 })
	if err != nil || len(m) != 3 || m[2].Content != "m2" {
		t.Fatalf("WaitMessages: %d messages, %v", len(m), err)
	}
	m, err = s.WaitMessages(ctx, "key", nil)
	if err != nil || len(m) != 3 {
		t.Fatalf("WaitMessages(nil pred): %d, %v", len(m), err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	m, err = s.WaitMessages(short, "key", func(m []Message) bool { return len(m) >= 4 })
	if !errors.Is(err, context.DeadlineExceeded) || len(m) != 3 {
		t.Fatalf("WaitMessages timeout: %d messages, %v", len(m), err)
	}
	m, err = s.WaitMessages(short, "nobody", nil)
	if err == nil || m != nil {
		t.Fatalf("WaitMessages for a silent robot: %v, %v", m, err)
	}
}

func TestStartClose(t *testing.T) {
	s := New()
	if err := s.Close(); err != nil {
		t.Fatalf("Close before Start: %v", err)
	}
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret})
	s.AddWeCom("key")
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0") {
		t.Fatalf("base URL %q", base)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("second Start succeeded")
	}
	// Real clock: a sign made now is accepted.
	ts := time.Now().UnixMilli()
	expect(t, "dingtalk on real clock", post(t, dtURL(base, signedQ("tok", vecSecret, ts)), dtText("hi")), 0, "ok")
	expect(t, "wecom", post(t, wcURL(base, "key"), wcText("hi")), 0, "ok")
	if m := s.Messages("tok"); len(m) != 1 || time.Since(m[0].At) > time.Minute {
		t.Fatalf("messages %+v", m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Post(wcURL(base, "key"), "application/json", bytes.NewReader(wcText("x"))); err == nil {
		resp.Body.Close()
		t.Fatal("server still answering after Close")
	}
	if s.Count("key") != 1 {
		t.Fatal("messages lost on Close")
	}
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start after Close: %v", err)
	}
	s.Close()
}

func TestNotPlatformRequests(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{})
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, dtURL(base, qs("access_token", "tok")), strings.NewReader(string(dtText("x"))))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d", method, resp.StatusCode)
		}
	}
	if r := post(t, base+"/robot/send/extra?access_token=tok", dtText("x")); r.Status != http.StatusNotFound {
		t.Errorf("other path: %d", r.Status)
	}
	if s.Count("tok") != 0 || len(s.Rejections("tok")) != 0 {
		t.Error("non-platform requests recorded")
	}
	s.AddWeCom("key")
	if r := post(t, wcURL(base, "key"), bytes.Repeat([]byte(" "), maxRead+10)); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("WeCom huge body: %d", r.Status)
	}
}

// Odd requests must never crash the server or get a 5xx.
func TestRobustness(t *testing.T) {
	s, base, _ := setup(t)
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret, Keywords: []string{"k"}})
	s.AddDingTalk("", DingTalkRobot{})
	s.AddWeCom("key")
	bodies := [][]byte{nil, []byte("\x00\xff\xfe"), []byte(`{"msgtype":"text","text":{"content":"\ud800 k"}}`),
		[]byte(`{"msgtype":"text","text":{"content":"k"},"at":null}`), []byte(`{"msgtype":"markdown","markdown":[]}`),
		[]byte(strings.Repeat("[", 100000)), []byte(`{"msgtype":"text","text":{"content":"k","mentioned_list":null}}`),
		[]byte(`{"msgtype":"text","text":{"content":"k","mentioned_list":[1,2]}}`), bytes.Repeat([]byte("x"), 3<<20)}
	urls := []string{
		dtURL(base, qs("access_token", "tok")), dtURL(base, qs("access_token", "tok", "timestamp", "99999999999999999999999", "sign", "%")),
		dtURL(base, qs("access_token", "tok", "timestamp", "-9223372036854775808", "sign", "x")),
		base + DingTalkPath + "?access_token=%zz&timestamp=%&sign=;;", base + DingTalkPath + "?access_token=", dtURL(base, qs("access_token", "")),
		wcURL(base, "key"), base + WeComPath + "?key=%zz;", base + WeComPath + "?key=key&key=other",
	}
	for _, u := range urls {
		for _, b := range bodies {
			r := post(t, u, b)
			if r.Status >= 500 {
				t.Fatalf("%s with %.40q: HTTP %d %s", u, b, r.Status, r.Body)
			}
		}
	}
	// Still serving.
	expect(t, "still serving", post(t, wcURL(base, "key"), wcText("alive")), 0, "ok")
}

func TestConcurrent(t *testing.T) {
	s, base, clk := setup(t)
	s.DisableRateLimit(true)
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret})
	s.AddWeCom("key")
	var seen sync.Map
	s.OnMessage(func(m Message) { seen.Store(string(m.Raw), true) })
	const workers, each = 8, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var u string
				var b []byte
				if (w+i)%2 == 0 {
					u, b = dtURL(base, signedQ("tok", vecSecret, vecTS)), dtText(fmt.Sprintf("w%d-%d", w, i))
				} else {
					u, b = wcURL(base, "key"), wcText(fmt.Sprintf("w%d-%d", w, i))
				}
				resp, err := http.Post(u, "application/json", bytes.NewReader(b))
				if err != nil {
					t.Error(err)
					return
				}
				var v struct{ Errcode int }
				json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				if v.Errcode != 0 {
					t.Errorf("errcode %d", v.Errcode)
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = s.Messages("tok")
			_ = s.Rejections("key")
			_ = s.Count("key")
			clk.Set(t0())
			s.AddWeCom("key")
			s.SetDown(0)
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	if got := s.Count("tok") + s.Count("key"); got != workers*each {
		t.Fatalf("%d messages, want %d", got, workers*each)
	}
	n := 0
	seen.Range(func(_, _ any) bool { n++; return true })
	if n != workers*each {
		t.Fatalf("OnMessage saw %d distinct messages, want %d", n, workers*each)
	}
}

func TestOnRejection(t *testing.T) {
	s, base, _ := setup(t)
	var mu sync.Mutex
	var got []Rejection
	s.OnRejection(func(r Rejection) { mu.Lock(); got = append(got, r); mu.Unlock() })
	post(t, dtURL(base, qs("access_token", "x")), dtText("m"))
	post(t, wcURL(base, "y"), wcText("m"))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Code != 300001 || got[0].Robot != "x" || got[1].Code != 93000 || got[1].Platform != "wecom" {
		t.Fatalf("OnRejection saw %+v", got)
	}
}

func BenchmarkDingTalkSend(b *testing.B) {
	s := New()
	s.DisableRateLimit(true)
	s.AddDingTalk("tok", DingTalkRobot{Secret: vecSecret})
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	body := dtMarkdown("alert", strings.Repeat("GPU hot ", 100))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := dtURL(ts.URL, signedQ("tok", vecSecret, time.Now().UnixMilli()))
			resp, err := http.Post(u, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	s.Reset()
}
