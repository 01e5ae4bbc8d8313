package relay

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// DeliveryError is a failed delivery, in the platform's terms and in plain words.
type DeliveryError struct {
	// Code is the platform's errcode (0 when the failure was HTTP or the network).
	Code int
	// HTTPStatus is the HTTP status (0 when the request did not get an answer).
	HTTPStatus int
	// PlatformMsg is the platform's errmsg.
	PlatformMsg string
	// Words says what happened and what to do, for people.
	Words string
	// Retry says whether trying again later may succeed (network, 5xx, 429, throttling).
	Retry bool
}

func (e *DeliveryError) Error() string { return e.Words }

// Reason is a short label for metrics: dingtalk_310000, http_503, network.
func (e *DeliveryError) Reason(kind string) string {
	switch {
	case e.Code != 0:
		return fmt.Sprintf("%s_%d", kind, e.Code)
	case e.HTTPStatus != 0:
		return fmt.Sprintf("http_%d", e.HTTPStatus)
	}
	return "network"
}

// platformError explains an errcode returned by a robot.
func platformError(kind string, code int, msg string) *DeliveryError {
	e := &DeliveryError{Code: code, PlatformMsg: msg}
	switch kind {
	case KindDingTalk:
		switch code {
		case 310000:
			e.Words = "DingTalk 310000: signature or keyword mismatch; check the robot's security settings: the signing secret (加签) or the keyword must match the spec"
		case 300001, 300005:
			e.Words = fmt.Sprintf("DingTalk %d: invalid access_token; the robot was removed or the webhook URL is wrong", code)
		case 130101, 410100:
			e.Words = fmt.Sprintf("DingTalk %d: sending too fast (over 20 messages a minute); retrying", code)
			e.Retry = true
		case 460101:
			e.Words = "DingTalk 460101: message over 20000 bytes"
		case 400013, 400101, 400102:
			e.Words = fmt.Sprintf("DingTalk %d: the robot is disabled or was removed from the group", code)
		case -1:
			e.Words = "DingTalk -1: system busy; retrying"
			e.Retry = true
		default:
			e.Words = fmt.Sprintf("DingTalk %d: %s", code, msg)
		}
	case KindWeCom:
		switch code {
		case 93000:
			e.Words = "WeCom 93000: invalid webhook key; the robot was removed or the key is wrong"
		case 45009:
			e.Words = "WeCom 45009: sending too fast (over 20 messages a minute); retrying"
			e.Retry = true
		case 40058:
			e.Words = "WeCom 40058: message too long or a parameter is invalid"
		case 44004:
			e.Words = "WeCom 44004: empty message"
		case 40008:
			e.Words = "WeCom 40008: invalid message type"
		case -1:
			e.Words = "WeCom -1: system busy; retrying"
			e.Retry = true
		default:
			e.Words = fmt.Sprintf("WeCom %d: %s", code, msg)
		}
	}
	return e
}

// httpError explains an HTTP status without a usable errcode.
func httpError(kind string, status int) *DeliveryError {
	e := &DeliveryError{HTTPStatus: status}
	switch {
	case status == 429:
		e.Words = fmt.Sprintf("%s answered HTTP 429 (too many requests); retrying", platformName(kind))
		e.Retry = true
	case status >= 500:
		e.Words = fmt.Sprintf("%s answered HTTP %d (server error); retrying", platformName(kind), status)
		e.Retry = true
	case status == 404:
		e.Words = fmt.Sprintf("%s answered HTTP 404; the webhook URL's path is wrong", platformName(kind))
	default:
		e.Words = fmt.Sprintf("%s answered HTTP %d", platformName(kind), status)
	}
	return e
}

// networkError explains a request that got no answer. The *url.Error the HTTP client returns
// holds the whole URL, token included, so only its cause is kept.
func networkError(kind string, err error) *DeliveryError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	host := ""
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Addr != nil {
		host = " " + oe.Addr.String()
	}
	return &DeliveryError{
		Words: fmt.Sprintf("cannot reach %s%s (%v); check this host's internet access or proxy; retrying", platformName(kind), host, err),
		Retry: true,
	}
}

func platformName(kind string) string {
	if kind == KindWeCom {
		return "WeCom"
	}
	return "DingTalk"
}
