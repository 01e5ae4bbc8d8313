// Package robots is a STAND-IN for two chat-robot webhook APIs, not the services themselves:
// the DingTalk custom robot (POST /robot/send?access_token=…) and the WeCom group robot
// (POST /cgi-bin/webhook/send?key=…). It runs in-process and implements the documented
// contract of both, so that tests and benchmarks can check llmmon's notification relay
// against it, without the Internet and without real robots.
//
// One Server serves both platforms on one listener (or through Handler). Register robots with
// AddDingTalk and AddWeCom, point the relay at the base URL returned by Start (or an
// httptest.Server wrapping Handler), then inspect what arrived with Messages, Rejections and
// WaitMessages.
//
// # DingTalk custom robot
//
// Every answer is HTTP 200 with {"errcode":N,"errmsg":"…"}; errcode 0, errmsg "ok" is success.
// A request is checked in this order, and the first failed rule answers:
//
//   - access_token unknown (or missing): 300001 "token is not exist".
//   - robot throttled (see rate limit below): 130101.
//   - robot in signed mode (DingTalkRobot.Secret set): the timestamp query parameter (ms
//     since the epoch) must be present and within one hour of the server clock, and the sign
//     parameter (after the URL-decoding every HTTP library does) must equal
//     base64(HMAC-SHA256(key=secret, msg=timestamp+"\n"+secret)); see DingTalkSign. Else
//     310000 "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]".
//     A client that forgets to URL-encode the sign is rejected whenever the sign has a '+'.
//   - body larger than 20000 bytes: 460101 "message too long, exceed 20000 bytes".
//   - body not a JSON object, or msgtype missing or not one of text, markdown, link,
//     actionCard, or the message lacks its required fields (text.content; markdown.title and
//     markdown.text; link and actionCard title and text): 40035 "缺少参数 json".
//   - robot in keyword mode (DingTalkRobot.Keywords set): the content (text.content, or
//     title+text for the other types) must contain at least one keyword (case-sensitive),
//     else 310000 "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]".
//   - rate limit: at most 20 accepted messages in any 60 s window per robot. The 21st call
//     inside the window answers 130101 "send too fast, exceed 20 times per minute" and the
//     robot then stays throttled, every call answering 130101, for 10 minutes from that call.
//     Rejected calls never count as sent messages.
//
// Mentions are read from "at": {"atMobiles": […], "atUserIds": […], "isAtAll": bool}.
//
// # WeCom group robot
//
// Every answer is HTTP 200 with {"errcode":N,"errmsg":"…"}; errcode 0, errmsg "ok" is success.
// Checked in this order:
//
//   - key unknown (or missing): 93000 "invalid webhook url, hint: […]".
//   - body not JSON, or msgtype missing or other than text or markdown (the only two types the
//     stand-in implements): 40008 "invalid message type".
//   - content empty or missing: 44004 "empty content".
//   - text.content over 2048 bytes (UTF-8): 40058 "text.content exceed max length 2048.
//     invalid Request Parameter"; markdown.content over 4096 bytes: 40058 "markdown.content
//     exceed max length 4096. invalid Request Parameter".
//   - rate limit: at most 20 accepted messages in any 60 s window per robot; beyond that
//     45009 "api freq out of limit". No extended ban: the call succeeds again as soon as the
//     window has room. Rejected calls never count.
//
// Mentions are read from text.mentioned_list (user ids, or "@all") and
// text.mentioned_mobile_list; like WeCom, the stand-in ignores them on markdown messages.
//
// # Beyond the platforms' contracts
//
// A method other than POST answers HTTP 405; a path other than the two above answers HTTP 404;
// a body that cannot be read answers HTTP 400; a body over 4 MiB to the WeCom path answers
// HTTP 413. None of these is recorded. A request's time (for timestamps, rate windows,
// Message.At and Rejection.At) comes from the clock set with SetNow. A message leaves the
// window 60 s after it was accepted (a message at t counts for calls in [t, t+60s)).
package robots

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Paths the two platforms are served on.
const (
	DingTalkPath = "/robot/send"
	WeComPath    = "/cgi-bin/webhook/send"
)

// Platform names used in Message.Platform and Rejection.Platform.
const (
	PlatformDingTalk = "dingtalk"
	PlatformWeCom    = "wecom"
)

// DingTalk error codes.
const (
	DingTalkTokenNotExist = 300001 // unknown access_token
	DingTalkNotAllowed    = 310000 // sign not match, or keywords not in content
	DingTalkTooLong       = 460101 // body over 20000 bytes
	DingTalkBadParam      = 40035  // bad JSON, bad msgtype, missing fields
	DingTalkTooFast       = 130101 // rate limit, and the 10-minute throttle after it
)

// WeCom error codes.
const (
	WeComInvalidKey  = 93000 // unknown key
	WeComTooLong     = 40058 // content over its limit
	WeComEmpty       = 44004 // empty content
	WeComInvalidType = 40008 // bad JSON or msgtype
	WeComTooFast     = 45009 // rate limit
)

// Limits.
const (
	DingTalkMaxBody      = 20000            // bytes of request body
	DingTalkSignValidFor = time.Hour        // allowed distance between timestamp and server clock
	DingTalkThrottle     = 10 * time.Minute // how long a robot stays throttled after hitting the rate limit
	WeComTextMax         = 2048             // bytes of text.content
	WeComMarkdownMax     = 4096             // bytes of markdown.content
	RateLimit            = 20               // accepted messages per RateWindow per robot, both platforms
	RateWindow           = time.Minute
)

const maxRead = 4 << 20 // bytes of body read at most

// Error messages.
const (
	dtMoreDoc          = "more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
	msgDTTokenNotExist = "token is not exist"
	msgDTSign          = "sign not match, " + dtMoreDoc
	msgDTKeywords      = "keywords not in content, " + dtMoreDoc
	msgDTTooLong       = "message too long, exceed 20000 bytes"
	msgDTBadParam      = "缺少参数 json"
	msgDTTooFast       = "send too fast, exceed 20 times per minute"
	msgWCInvalidKey    = "invalid webhook url, hint: [%d_robots-standin], more info at https://open.work.weixin.qq.com/devtool/query?e=93000"
	msgWCTextTooLong   = "text.content exceed max length 2048. invalid Request Parameter"
	msgWCMdTooLong     = "markdown.content exceed max length 4096. invalid Request Parameter"
	msgWCEmpty         = "empty content"
	msgWCInvalidType   = "invalid message type"
	msgWCTooFast       = "api freq out of limit"
)

// DingTalkRobot configures a DingTalk custom robot's security settings. Secret (the "SEC…"
// string of 加签) puts it in signed mode; Keywords (自定义关键词) put it in keyword mode. Both
// may be set; with neither the robot accepts any well-formed message.
type DingTalkRobot struct {
	Secret   string
	Keywords []string
}

// Message is one message a robot accepted.
type Message struct {
	Platform string    `json:"platform"` // "dingtalk" or "wecom"
	Robot    string    `json:"robot"`    // access_token or key
	At       time.Time `json:"at"`       // server clock when accepted
	MsgType  string    `json:"msgtype"`
	// Title is markdown.title (and link/actionCard title) for DingTalk; empty for WeCom.
	Title string `json:"title,omitempty"`
	// Content is text.content, or markdown.text (DingTalk) / markdown.content (WeCom), or the
	// text of a DingTalk link or actionCard.
	Content string `json:"content"`
	// DingTalk mentions: at.atMobiles, at.atUserIds, at.isAtAll.
	AtMobiles []string `json:"at_mobiles,omitempty"`
	AtUserIDs []string `json:"at_user_ids,omitempty"`
	// AtAll is at.isAtAll for DingTalk; for WeCom it is true when the text message's
	// mentioned_list or mentioned_mobile_list holds "@all".
	AtAll bool `json:"at_all,omitempty"`
	// WeCom mentions (text messages only): text.mentioned_list, text.mentioned_mobile_list.
	Mentioned        []string `json:"mentioned,omitempty"`
	MentionedMobiles []string `json:"mentioned_mobiles,omitempty"`
	BodyBytes        int      `json:"body_bytes"` // size of the request body
	Raw              []byte   `json:"raw"`        // the request body
}

// Rejection is one request to a robot that got a non-zero errcode.
type Rejection struct {
	Platform string    `json:"platform"`
	Robot    string    `json:"robot"` // access_token or key as sent (possibly unknown or empty)
	At       time.Time `json:"at"`
	Code     int       `json:"errcode"`
	Msg      string    `json:"errmsg"`
}

type dtRobot struct {
	cfg       DingTalkRobot
	sent      []time.Time // accepted messages still in the window
	throttled time.Time   // rejected with 130101 until then
}

type wcRobot struct {
	sent []time.Time
}

// Server is the stand-in for both platforms. Its methods are safe for concurrent use. The zero
// value is not usable; call New.
type Server struct {
	mu       sync.Mutex
	now      func() time.Time
	down     int
	noRate   bool
	dingtalk map[string]*dtRobot
	wecom    map[string]*wcRobot
	apps     map[string]*wcApp // WeCom applications by corp id (wecomapp.go)
	msgs     map[string][]Message
	rejs     map[string][]Rejection
	changed  chan struct{} // closed and replaced whenever a message is accepted or state reset
	onMsg    func(Message)
	onRej    func(Rejection)
	srv      *http.Server
}

// New returns a Server with no robots, the real clock and rate limits on.
func New() *Server {
	return &Server{
		now:      time.Now,
		dingtalk: map[string]*dtRobot{},
		wecom:    map[string]*wcRobot{},
		msgs:     map[string][]Message{},
		rejs:     map[string][]Rejection{},
		changed:  make(chan struct{}),
	}
}

// AddDingTalk registers (or reconfigures) the DingTalk robot with that access_token.
// Reconfiguring keeps its messages and rate-limit state.
func (s *Server) AddDingTalk(token string, r DingTalkRobot) {
	r.Keywords = slices.Clone(r.Keywords)
	s.mu.Lock()
	defer s.mu.Unlock()
	if rb, ok := s.dingtalk[token]; ok {
		rb.cfg = r
		return
	}
	s.dingtalk[token] = &dtRobot{cfg: r}
}

// AddWeCom registers the WeCom group robot with that key (a no-op if it exists).
func (s *Server) AddWeCom(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.wecom[key]; !ok {
		s.wecom[key] = &wcRobot{}
	}
}

// SetNow sets the clock used for DingTalk timestamps, rate windows, throttling and the At
// fields. nil restores time.Now. The function must not call back into the Server.
func (s *Server) SetNow(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// SetDown simulates an outage: while status is non-zero every request, on any path, is answered
// with that HTTP status and an empty body, and nothing is recorded or counted. SetDown(0) ends
// the outage. It panics unless status is 0 or in 200–999.
func (s *Server) SetDown(status int) {
	if status != 0 && (status < 200 || status > 999) {
		panic(fmt.Sprintf("robots: SetDown(%d): want 0 or an HTTP status in 200-999", status))
	}
	s.mu.Lock()
	s.down = status
	s.mu.Unlock()
}

// DisableRateLimit turns the rate limits of both platforms off (true) or on again (false), for
// throughput benchmarks. While off, calls are neither limited nor counted toward the windows,
// and a DingTalk robot's throttle is not applied (it still expires at its time).
func (s *Server) DisableRateLimit(off bool) {
	s.mu.Lock()
	s.noRate = off
	s.mu.Unlock()
}

// OnMessage sets a function called, outside the Server's lock, after each accepted message
// (nil for none). Used by the robots command to print messages.
func (s *Server) OnMessage(f func(Message)) {
	s.mu.Lock()
	s.onMsg = f
	s.mu.Unlock()
}

// OnRejection sets a function called, outside the Server's lock, after each rejection.
func (s *Server) OnRejection(f func(Rejection)) {
	s.mu.Lock()
	s.onRej = f
	s.mu.Unlock()
}

// Reset forgets all messages, rejections, rate windows and throttles; robots and settings stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs = map[string][]Message{}
	s.rejs = map[string][]Rejection{}
	for _, rb := range s.dingtalk {
		rb.sent, rb.throttled = nil, time.Time{}
	}
	for _, rb := range s.wecom {
		rb.sent = nil
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Messages returns a copy of the messages accepted by the robot with that token or key, oldest
// first.
func (s *Server) Messages(robot string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyMessages(s.msgs[robot])
}

// Count returns how many messages the robot with that token or key accepted (cheaper than
// len(Messages(robot))).
func (s *Server) Count(robot string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs[robot])
}

// Rejections returns a copy of the rejected requests to that token or key, oldest first.
// Requests with unknown tokens or keys are recorded under the token or key they used.
func (s *Server) Rejections(robot string) []Rejection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejs[robot])
}

// WaitMessages waits until pred, called with the robot's accepted messages, returns true, and
// returns those messages. A nil pred waits for at least one message. When ctx ends first it
// returns the messages seen last and an error wrapping ctx.Err().
func (s *Server) WaitMessages(ctx context.Context, robot string, pred func([]Message) bool) ([]Message, error) {
	if pred == nil {
		pred = func(m []Message) bool { return len(m) > 0 }
	}
	for {
		s.mu.Lock()
		msgs := copyMessages(s.msgs[robot])
		ch := s.changed
		s.mu.Unlock()
		if pred(msgs) {
			return msgs, nil
		}
		select {
		case <-ctx.Done():
			return msgs, fmt.Errorf("robots: waiting for messages to robot %q (have %d): %w", robot, len(msgs), ctx.Err())
		case <-ch:
		}
	}
}

func copyMessages(in []Message) []Message {
	if in == nil {
		return nil
	}
	out := make([]Message, len(in))
	for i, m := range in {
		m.AtMobiles = slices.Clone(m.AtMobiles)
		m.AtUserIDs = slices.Clone(m.AtUserIDs)
		m.Mentioned = slices.Clone(m.Mentioned)
		m.MentionedMobiles = slices.Clone(m.MentionedMobiles)
		m.Raw = slices.Clone(m.Raw)
		out[i] = m
	}
	return out
}

// Start serves Handler on addr (such as "127.0.0.1:0") in the background and returns the base
// URL, such as "http://127.0.0.1:41234". Robots are then at baseURL+DingTalkPath and
// baseURL+WeComPath.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return "", errors.New("robots: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("robots: %w", err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.srv = srv
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close stops a server started with Start, closing its listener and connections. Recorded
// messages stay readable. Close without Start does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Handler returns the HTTP handler serving both platforms.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// DingTalkSign returns the sign of a DingTalk request made at timestampMs (ms since the epoch)
// for a robot with that secret: base64(HMAC-SHA256(secret, timestamp+"\n"+secret)). It is not
// URL-encoded; a client must encode it in the query string (url.Values does).
func DingTalkSign(secret string, timestampMs int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestampMs, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			http.Error(w, fmt.Sprintf("robots: internal error: %v", v), http.StatusInternalServerError)
		}
	}()
	s.mu.Lock()
	down, clock := s.down, s.now
	s.mu.Unlock()
	if down != 0 {
		w.WriteHeader(down)
		return
	}
	switch {
	case r.URL.Path == WeComAppTokenPath && r.Method == http.MethodGet:
		s.weComAppToken(w, r)
		return
	case r.URL.Path == WeComAppSendPath && r.Method == http.MethodPost:
		s.weComAppSend(w, r, clock())
		return
	}
	if r.URL.Path != DingTalkPath && r.URL.Path != WeComPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRead+1))
	if err != nil {
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	now := clock()
	q := r.URL.Query()
	var code int
	var msg string
	if r.URL.Path == DingTalkPath {
		code, msg = s.dingTalk(q.Get("access_token"), q.Get("timestamp"), q.Get("sign"), body, now)
	} else {
		if len(body) > maxRead {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		code, msg = s.weCom(q.Get("key"), body, now)
	}
	writeResult(w, code, msg)
}

func writeResult(w http.ResponseWriter, code int, msg string) {
	b, _ := json.Marshal(struct {
		Code int    `json:"errcode"`
		Msg  string `json:"errmsg"`
	}{code, msg})
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// dtBody is the part of a DingTalk message the stand-in reads.
type dtBody struct {
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
	Markdown   *dtTitled `json:"markdown"`
	Link       *dtTitled `json:"link"`
	ActionCard *dtTitled `json:"actionCard"`
	At         *struct {
		AtMobiles []string `json:"atMobiles"`
		AtUserIDs []string `json:"atUserIds"`
		IsAtAll   bool     `json:"isAtAll"`
	} `json:"at"`
}

type dtTitled struct {
	Title string `json:"title"`
	Text  string `json:"text"`
}

// parseDingTalk turns a DingTalk body into a Message (without Robot and At) and the text the
// keywords are looked for in; ok is false when the body is invalid (40035).
func parseDingTalk(body []byte) (m Message, searched string, ok bool) {
	var b dtBody
	if err := json.Unmarshal(body, &b); err != nil {
		return m, "", false
	}
	m.MsgType = b.MsgType
	switch b.MsgType {
	case "text":
		if b.Text == nil || b.Text.Content == "" {
			return m, "", false
		}
		m.Content = b.Text.Content
		searched = m.Content
	case "markdown", "link", "actionCard":
		t := map[string]*dtTitled{"markdown": b.Markdown, "link": b.Link, "actionCard": b.ActionCard}[b.MsgType]
		if t == nil || t.Title == "" || t.Text == "" {
			return m, "", false
		}
		m.Title, m.Content = t.Title, t.Text
		searched = t.Title + t.Text
	default:
		return m, "", false
	}
	if b.At != nil {
		m.AtMobiles, m.AtUserIDs, m.AtAll = b.At.AtMobiles, b.At.AtUserIDs, b.At.IsAtAll
	}
	return m, searched, true
}

// signOK checks a DingTalk signed-mode request.
func signOK(secret, timestamp, sign string, now time.Time) bool {
	if timestamp == "" || sign == "" {
		return false
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	d := now.UnixMilli() - ts
	if d < 0 {
		d = -d
	}
	if d > DingTalkSignValidFor.Milliseconds() {
		return false
	}
	return hmac.Equal([]byte(sign), []byte(DingTalkSign(secret, ts)))
}

// prune drops the times that have left the rate window ending at now.
func prune(sent []time.Time, now time.Time) []time.Time {
	cut := now.Add(-RateWindow)
	i := 0
	for i < len(sent) && !sent[i].After(cut) {
		i++
	}
	return sent[i:]
}

func (s *Server) dingTalk(token, timestamp, sign string, body []byte, now time.Time) (int, string) {
	m, searched, valid := parseDingTalk(body) // outside the lock; results used in rule order below
	s.mu.Lock()
	code, msg := func() (int, string) {
		rb := s.dingtalk[token]
		if rb == nil {
			return DingTalkTokenNotExist, msgDTTokenNotExist
		}
		if !s.noRate && now.Before(rb.throttled) {
			return DingTalkTooFast, msgDTTooFast
		}
		if rb.cfg.Secret != "" && !signOK(rb.cfg.Secret, timestamp, sign, now) {
			return DingTalkNotAllowed, msgDTSign
		}
		if len(body) > DingTalkMaxBody {
			return DingTalkTooLong, msgDTTooLong
		}
		if !valid {
			return DingTalkBadParam, msgDTBadParam
		}
		if len(rb.cfg.Keywords) > 0 && !slices.ContainsFunc(rb.cfg.Keywords, func(k string) bool { return strings.Contains(searched, k) }) {
			return DingTalkNotAllowed, msgDTKeywords
		}
		if !s.noRate {
			rb.sent = prune(rb.sent, now)
			if len(rb.sent) >= RateLimit {
				rb.throttled = now.Add(DingTalkThrottle)
				return DingTalkTooFast, msgDTTooFast
			}
			rb.sent = append(rb.sent, now)
		}
		return 0, "ok"
	}()
	return s.finish(PlatformDingTalk, token, code, msg, m, body, now)
}

// wcBody is the part of a WeCom message the stand-in reads.
type wcBody struct {
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content             string   `json:"content"`
		MentionedList       []string `json:"mentioned_list"`
		MentionedMobileList []string `json:"mentioned_mobile_list"`
	} `json:"text"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

// parseWeCom turns a WeCom body into a Message (without Robot and At), or an error code.
func parseWeCom(body []byte) (m Message, code int, msg string) {
	var b wcBody
	if err := json.Unmarshal(body, &b); err != nil {
		return m, WeComInvalidType, msgWCInvalidType
	}
	m.MsgType = b.MsgType
	switch b.MsgType {
	case "text":
		if b.Text == nil || b.Text.Content == "" {
			return m, WeComEmpty, msgWCEmpty
		}
		if len(b.Text.Content) > WeComTextMax {
			return m, WeComTooLong, msgWCTextTooLong
		}
		m.Content = b.Text.Content
		m.Mentioned, m.MentionedMobiles = b.Text.MentionedList, b.Text.MentionedMobileList
		m.AtAll = slices.Contains(m.Mentioned, "@all") || slices.Contains(m.MentionedMobiles, "@all")
	case "markdown":
		if b.Markdown == nil || b.Markdown.Content == "" {
			return m, WeComEmpty, msgWCEmpty
		}
		if len(b.Markdown.Content) > WeComMarkdownMax {
			return m, WeComTooLong, msgWCMdTooLong
		}
		m.Content = b.Markdown.Content
	default:
		return m, WeComInvalidType, msgWCInvalidType
	}
	return m, 0, "ok"
}

func (s *Server) weCom(key string, body []byte, now time.Time) (int, string) {
	m, pcode, pmsg := parseWeCom(body)
	s.mu.Lock()
	code, msg := func() (int, string) {
		rb := s.wecom[key]
		if rb == nil {
			return WeComInvalidKey, fmt.Sprintf(msgWCInvalidKey, now.Unix())
		}
		if pcode != 0 {
			return pcode, pmsg
		}
		if !s.noRate {
			rb.sent = prune(rb.sent, now)
			if len(rb.sent) >= RateLimit {
				return WeComTooFast, msgWCTooFast
			}
			rb.sent = append(rb.sent, now)
		}
		return 0, "ok"
	}()
	return s.finish(PlatformWeCom, key, code, msg, m, body, now)
}

// finish records the outcome (s.mu held on entry; released here) and runs the callbacks.
func (s *Server) finish(platform, robot string, code int, msg string, m Message, body []byte, now time.Time) (int, string) {
	if code != 0 {
		rej := Rejection{Platform: platform, Robot: robot, At: now, Code: code, Msg: msg}
		s.rejs[robot] = append(s.rejs[robot], rej)
		f := s.onRej
		s.mu.Unlock()
		if f != nil {
			f(rej)
		}
		return code, msg
	}
	m.Platform, m.Robot, m.At, m.BodyBytes, m.Raw = platform, robot, now, len(body), body
	s.msgs[robot] = append(s.msgs[robot], m)
	close(s.changed)
	s.changed = make(chan struct{})
	f := s.onMsg
	s.mu.Unlock()
	if f != nil {
		f(copyMessages([]Message{m})[0])
	}
	return code, msg
}
