package relay

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestErrorsAreClassified(t *testing.T) {
	for _, c := range []struct {
		err   *DeliveryError
		retry bool
		words string
	}{
		{platformError(KindDingTalk, 310000, "sign not match"), false, "signature or keyword mismatch"},
		{platformError(KindDingTalk, 300001, "token is not exist"), false, "invalid access_token"},
		{platformError(KindDingTalk, 130101, "send too fast"), true, "sending too fast"},
		{platformError(KindDingTalk, 460101, "message too long"), false, "20000 bytes"},
		{platformError(KindWeCom, 93000, "invalid webhook url"), false, "invalid webhook key"},
		{platformError(KindWeCom, 45009, "api freq out of limit"), true, "sending too fast"},
		{platformError(KindWeCom, 40058, "exceed max length"), false, "too long"},
		{platformError(KindWeCom, -1, "system busy"), true, "busy"},
		{httpError(KindWeCom, http.StatusTooManyRequests), true, "HTTP 429"},
		{httpError(KindDingTalk, http.StatusBadGateway), true, "HTTP 502"},
		{httpError(KindDingTalk, http.StatusNotFound), false, "path is wrong"},
	} {
		if c.err.Retry != c.retry || !strings.Contains(c.err.Words, c.words) {
			t.Errorf("%+v: want retry %v and %q", c.err, c.retry, c.words)
		}
	}
}

// The HTTP client's error holds the whole URL, token included; the words must not.
func TestNetworkErrorHidesTheToken(t *testing.T) {
	c := &http.Client{Timeout: 2 * time.Second}
	_, err := c.Post("http://127.0.0.1:1/robot/send?access_token=SECRET-TOKEN-123", "application/json", nil)
	if err == nil || !strings.Contains(err.Error(), "SECRET-TOKEN-123") {
		t.Fatalf("precondition: the client's error names the URL: %v", err)
	}
	de := networkError(KindDingTalk, err)
	if strings.Contains(de.Words, "SECRET-TOKEN-123") || !de.Retry || !strings.Contains(de.Words, "cannot reach DingTalk") {
		t.Errorf("words %q", de.Words)
	}
	var target *DeliveryError
	if !errors.As(error(de), &target) || target.Reason(KindDingTalk) != "network" {
		t.Errorf("reason %q", target.Reason(KindDingTalk))
	}
}
