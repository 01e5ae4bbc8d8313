package robots

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestWeComAppContract(t *testing.T) {
	s := New()
	s.AddWeComApp("wwcorp", "app-secret", "1000002")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	call := func(method, path string, q url.Values, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path+"?"+q.Encode(), strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return out
	}
	code := func(m map[string]any) int { return int(m["errcode"].(float64)) }

	if c := code(call("GET", WeComAppTokenPath, url.Values{"corpid": {"nope"}, "corpsecret": {"app-secret"}}, "")); c != WeComAppInvalidCorpID {
		t.Errorf("unknown corp: %d", c)
	}
	if m := call("GET", WeComAppTokenPath, url.Values{"corpid": {"wwcorp"}, "corpsecret": {"wrong"}}, ""); code(m) != WeComAppInvalidCredential || m["access_token"] != nil {
		t.Errorf("wrong secret: %v", m)
	}
	tok := call("GET", WeComAppTokenPath, url.Values{"corpid": {"wwcorp"}, "corpsecret": {"app-secret"}}, "")["access_token"].(string)
	send := func(token, body string) int {
		return code(call("POST", WeComAppSendPath, url.Values{"access_token": {token}}, body))
	}
	ok := `{"toparty":"2","agentid":"1000002","msgtype":"markdown","markdown":{"content":"**hi**"}}`
	if c := send("stale", ok); c != WeComAppTokenExpired {
		t.Errorf("unknown token: %d", c)
	}
	if c := send(tok, ok); c != 0 {
		t.Errorf("valid message: %d", c)
	}
	if m := s.Messages("1000002"); len(m) != 1 || m[0].Platform != PlatformWeComApp || m[0].Content != "**hi**" {
		t.Errorf("recorded: %+v", m)
	}
	if c := send(tok, strings.Replace(ok, "1000002", "1000003", 1)); c != WeComAppInvalidAgent {
		t.Errorf("wrong agent: %d", c)
	}
	if c := send(tok, strings.Replace(ok, `"toparty":"2",`, "", 1)); c != WeComAppNoRecipient {
		t.Errorf("no recipient: %d", c)
	}
	if c := send(tok, strings.Replace(ok, "**hi**", strings.Repeat("x", WeComAppMarkdownMax+1), 1)); c != WeComTooLong {
		t.Errorf("too long: %d", c)
	}
	s.SetWeComAppTrustedIPOnly("wwcorp", true)
	if c := send(tok, ok); c != WeComAppUntrustedIP {
		t.Errorf("untrusted IP: %d", c)
	}
}
