package robots

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// The WeCom application-message API, which Alertmanager's wechat receiver calls
// (developer.work.weixin.qq.com, "获取access_token" and "发送应用消息"):
//
//	GET  /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET  -> {"errcode":0,"access_token":"…","expires_in":7200}
//	POST /cgi-bin/message/send?access_token=TOKEN       -> {"errcode":0,"errmsg":"ok"}
//
// gettoken with a wrong corp id or secret answers 40013 (invalid corpid) or 40001 (invalid
// credential) and no token. message/send answers 42001 for an unknown token, 40056 for an agentid
// that is not the app's, 40035 when touser, toparty and totag are all empty, 40058 for markdown
// over 2048 bytes, and 60020 "not allow to access from your ip" while the app requires a trusted
// IP (SetWeComAppTrustedIPOnly). Accepted messages are recorded with Platform "wecom_app" and
// Robot the agent id.
const (
	WeComAppTokenPath = "/cgi-bin/gettoken"
	WeComAppSendPath  = "/cgi-bin/message/send"
	PlatformWeComApp  = "wecom_app"

	WeComAppInvalidCredential = 40001
	WeComAppInvalidCorpID     = 40013
	WeComAppTokenExpired      = 42001
	WeComAppInvalidAgent      = 40056
	WeComAppNoRecipient       = 40035
	WeComAppUntrustedIP       = 60020
	WeComAppMarkdownMax       = 2048
)

type wcApp struct {
	corpID, secret, agentID string
	trustedOnly             bool
	tokens                  map[string]bool
}

// AddWeComApp registers a WeCom application: its corp id, secret and agent id.
func (s *Server) AddWeComApp(corpID, secret, agentID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.apps == nil {
		s.apps = map[string]*wcApp{}
	}
	s.apps[corpID] = &wcApp{corpID: corpID, secret: secret, agentID: agentID, tokens: map[string]bool{}}
}

// SetWeComAppTrustedIPOnly makes every message/send of the app answer 60020, as WeCom does for
// apps created after 2022 that have no trusted IP configured.
func (s *Server) SetWeComAppTrustedIPOnly(corpID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.apps[corpID]; a != nil {
		a.trustedOnly = on
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) weComAppToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[q.Get("corpid")]
	if a == nil {
		writeJSON(w, map[string]any{"errcode": WeComAppInvalidCorpID, "errmsg": "invalid corpid"})
		return
	}
	if q.Get("corpsecret") != a.secret {
		writeJSON(w, map[string]any{"errcode": WeComAppInvalidCredential, "errmsg": "invalid credential"})
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	a.tokens[tok] = true
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "access_token": tok, "expires_in": 7200})
}

func (s *Server) weComAppSend(w http.ResponseWriter, r *http.Request, now time.Time) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRead))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var m struct {
		ToUser   string                   `json:"touser"`
		ToParty  string                   `json:"toparty"`
		ToTag    string                   `json:"totag"`
		AgentID  string                   `json:"agentid"`
		MsgType  string                   `json:"msgtype"`
		Text     struct{ Content string } `json:"text"`
		Markdown struct{ Content string } `json:"markdown"`
	}
	tok := r.URL.Query().Get("access_token")
	s.mu.Lock()
	var app *wcApp
	for _, a := range s.apps {
		if a.tokens[tok] {
			app = a
		}
	}
	code, msg := 0, "ok"
	content := ""
	switch {
	case app == nil:
		code, msg = WeComAppTokenExpired, "access_token expired"
	case app.trustedOnly:
		code, msg = WeComAppUntrustedIP, "not allow to access from your ip, hint: [robots stand-in], from ip: 127.0.0.1"
	case json.Unmarshal(body, &m) != nil || (m.MsgType != "text" && m.MsgType != "markdown"):
		code, msg = WeComInvalidType, msgWCInvalidType
	case m.AgentID != app.agentID:
		code, msg = WeComAppInvalidAgent, "invalid agentid"
	case m.ToUser == "" && m.ToParty == "" && m.ToTag == "":
		code, msg = WeComAppNoRecipient, "missing touser, toparty and totag"
	default:
		content = m.Text.Content
		if m.MsgType == "markdown" {
			content = m.Markdown.Content
		}
		if len(content) > WeComAppMarkdownMax {
			code, msg = WeComTooLong, "content exceed max length 2048"
		}
	}
	robot := ""
	if app != nil {
		robot = app.agentID
	}
	code, msg = s.finish(PlatformWeComApp, robot, code, msg, Message{MsgType: m.MsgType, Content: content}, body, now)
	writeResult(w, code, msg)
}
