// Package relay is llmmon's notification relay: it receives Alertmanager's webhook
// notifications and delivers them to DingTalk custom robots and WeCom group robots, which
// Alertmanager cannot reach by itself. It signs DingTalk requests, keeps every message under
// the platform's byte limit, batches alerts to stay under the robots' rate limit, retries
// with backoff, keeps undelivered alerts across restarts, and never logs a webhook key or
// secret.
package relay

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the relay's configuration file, rendered by llmmon from the spec. It holds
// webhook URLs and secrets, so it is written 0600.
type Config struct {
	// Listen is the address the relay serves on (127.0.0.1:9095).
	Listen string `yaml:"listen"`
	// Token is what every request but /metrics, /-/ready and /-/healthy must carry
	// (Authorization: Bearer TOKEN); llmmon generates it and gives it to Alertmanager.
	Token string `yaml:"token"`
	// Language of the messages: en or zh.
	Language string `yaml:"language"`
	// Timezone the start times are shown in (IANA name).
	Timezone string `yaml:"timezone"`
	// StateFile keeps undelivered alerts across restarts ("" keeps them in memory only).
	StateFile string `yaml:"state_file,omitempty"`
	// BatchWait is how long the relay collects alerts before it sends a message (default 2s).
	BatchWait time.Duration `yaml:"batch_wait,omitempty"`
	// MaxPending bounds the undelivered alerts per receiver; beyond it the relay answers 503
	// and Alertmanager retries (default 20000).
	MaxPending int `yaml:"max_pending,omitempty"`
	// Receivers are the robots.
	Receivers []Receiver `yaml:"receivers"`
	// Report, when set, is the service report the relay builds and sends on a schedule.
	Report *ReportConfig `yaml:"report,omitempty"`
}

// Receiver is one robot.
type Receiver struct {
	Name string `yaml:"name"`
	// Kind is dingtalk or wecom.
	Kind string `yaml:"kind"`
	// URL is the robot's webhook address, with its access token or key.
	URL string `yaml:"url"`
	// Secret signs DingTalk requests (robots in signed mode).
	Secret string `yaml:"secret,omitempty"`
	// Keyword is put in every DingTalk message (robots in keyword mode).
	Keyword string `yaml:"keyword,omitempty"`
	// AtMobiles and AtAll mention people in DingTalk messages about firing alerts.
	AtMobiles []string `yaml:"at_mobiles,omitempty"`
	AtAll     bool     `yaml:"at_all,omitempty"`
	// Mentioned (user ids or "@all") and MentionedMobiles mention people in WeCom.
	Mentioned        []string `yaml:"mentioned,omitempty"`
	MentionedMobiles []string `yaml:"mentioned_mobiles,omitempty"`
	// MessagesPerMinute caps the messages sent to this robot in any minute (default 19; the
	// platforms allow 20). A negative value lifts the cap (benchmarks only).
	MessagesPerMinute int `yaml:"messages_per_minute,omitempty"`
}

// Kinds of receivers.
const (
	KindDingTalk = "dingtalk"
	KindWeCom    = "wecom"
)

// DefaultMessagesPerMinute stays one under the platforms' limit of 20, so that a message
// delayed in flight never makes the 21st inside the platform's window.
const DefaultMessagesPerMinute = 19

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read relay configuration: %w", err)
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("parse relay configuration %s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("relay configuration %s: %w", path, err)
	}
	return &c, nil
}

// Check fills defaults and reports every problem. Messages never include a URL or secret.
func (c *Config) Check() error {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9095"
	}
	if c.Language == "" {
		c.Language = "en"
	}
	if c.Timezone == "" {
		c.Timezone = "UTC"
	}
	if c.BatchWait == 0 {
		c.BatchWait = 2 * time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 20000
	}
	var errs []error
	if c.Token == "" {
		errs = append(errs, errors.New("token: missing; the relay refuses to run open (llmmon up generates one)"))
	}
	if _, ok := words[c.Language]; !ok {
		errs = append(errs, fmt.Errorf("language %q: want en or zh", c.Language))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		errs = append(errs, fmt.Errorf("timezone %q: %w", c.Timezone, err))
	}
	seen := map[string]bool{}
	for i := range c.Receivers {
		r := &c.Receivers[i]
		if r.Name == "" || seen[r.Name] {
			errs = append(errs, fmt.Errorf("receivers[%d]: missing or duplicate name %q", i, r.Name))
		}
		seen[r.Name] = true
		if r.Kind != KindDingTalk && r.Kind != KindWeCom {
			errs = append(errs, fmt.Errorf("receiver %s: kind %q: want dingtalk or wecom", r.Name, r.Kind))
		}
		if u, err := url.Parse(r.URL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("receiver %s: the webhook URL is not a valid http(s) address (value hidden)", r.Name))
		}
		if r.MessagesPerMinute == 0 {
			r.MessagesPerMinute = DefaultMessagesPerMinute
		}
	}
	if c.Report != nil {
		robots := map[string]bool{}
		for _, r := range c.Receivers {
			robots[r.Name] = true
		}
		errs = append(errs, c.Report.check(robots)...)
	}
	return errors.Join(errs...)
}
