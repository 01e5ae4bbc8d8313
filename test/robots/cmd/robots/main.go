// Command robots runs the DingTalk custom-robot and WeCom group-robot STAND-INS of package
// github.com/llmmon/llmmon/test/robots on one listener, for demos. It is not DingTalk or WeCom.
//
//	robots -listen 127.0.0.1:9280 -dingtalk TOKEN[:SECRET][:KEYWORDS] ... -wecom KEY ...
//
// -dingtalk may be repeated; SECRET puts the robot in signed mode and KEYWORDS (a comma-separated
// list) in keyword mode; leave SECRET empty for a keyword-only robot (TOKEN::KEYWORD). -wecom may
// be repeated. Every accepted message is printed to stdout as one JSON line (the body under
// "raw"); the listening address and rejections are logged to stderr. SIGINT or SIGTERM stops it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/llmmon/llmmon/test/robots"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, " ") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// parseDingTalk parses TOKEN[:SECRET][:KEYWORDS].
func parseDingTalk(v string) (string, robots.DingTalkRobot, error) {
	parts := strings.SplitN(v, ":", 3)
	if parts[0] == "" {
		return "", robots.DingTalkRobot{}, fmt.Errorf("-dingtalk %q: empty token", v)
	}
	var r robots.DingTalkRobot
	if len(parts) > 1 {
		r.Secret = parts[1]
	}
	if len(parts) > 2 {
		for _, k := range strings.Split(parts[2], ",") {
			if k != "" {
				r.Keywords = append(r.Keywords, k)
			}
		}
	}
	return parts[0], r, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("robots: ")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on, host:port")
	var dingtalk, wecom list
	flag.Var(&dingtalk, "dingtalk", "DingTalk robot TOKEN[:SECRET][:KEYWORDS] (repeatable)")
	flag.Var(&wecom, "wecom", "WeCom robot KEY (repeatable)")
	flag.Parse()
	if flag.NArg() > 0 {
		log.Fatalf("unexpected arguments: %q", flag.Args())
	}
	s := robots.New()
	for _, v := range dingtalk {
		token, r, err := parseDingTalk(v)
		if err != nil {
			log.Fatal(err)
		}
		s.AddDingTalk(token, r)
	}
	for _, k := range wecom {
		if k == "" {
			log.Fatal("-wecom: empty key")
		}
		s.AddWeCom(k)
	}
	var outMu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	s.OnMessage(func(m robots.Message) {
		out := struct {
			robots.Message
			Raw json.RawMessage `json:"raw"`
		}{m, m.Raw}
		outMu.Lock()
		defer outMu.Unlock()
		if err := enc.Encode(out); err != nil {
			log.Printf("writing message: %v", err)
		}
	})
	s.OnRejection(func(r robots.Rejection) {
		log.Printf("rejected %s robot %q: errcode %d: %s", r.Platform, r.Robot, r.Code, r.Msg)
	})
	base, err := s.Start(*listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s (DingTalk %s?access_token=…, WeCom %s?key=…)", base, robots.DingTalkPath, robots.WeComPath)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	_ = s.Close()
}
