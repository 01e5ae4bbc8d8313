package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"

	"github.com/llmmon/llmmon/stack/relay"
	"github.com/llmmon/llmmon/stack/spec"
)

type amConfig struct {
	Global        amGlobal         `yaml:"global"`
	TimeIntervals []amTimeInterval `yaml:"time_intervals,omitempty"`
	Templates     []string         `yaml:"templates"`
	Route         amRoute          `yaml:"route"`
	InhibitRules  []amInhibit      `yaml:"inhibit_rules"`
	Receivers     []amReceiver     `yaml:"receivers"`
}

type amTimeInterval struct {
	Name          string       `yaml:"name"`
	TimeIntervals []amInterval `yaml:"time_intervals"`
}

type amInterval struct {
	Times    []amTimeRange `yaml:"times"`
	Weekdays []string      `yaml:"weekdays"`
	Location string        `yaml:"location"`
}

type amTimeRange struct {
	StartTime string `yaml:"start_time"`
	EndTime   string `yaml:"end_time"`
}

type amGlobal struct {
	ResolveTimeout string `yaml:"resolve_timeout"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver,omitempty"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	ActiveTimes    []string  `yaml:"active_time_intervals,omitempty"`
	Continue       bool      `yaml:"continue,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`
}

type amInhibit struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

type amReceiver struct {
	Name           string      `yaml:"name"`
	EmailConfigs   []amEmail   `yaml:"email_configs,omitempty"`
	WebhookConfigs []amWebhook `yaml:"webhook_configs,omitempty"`
	WechatConfigs  []amWechat  `yaml:"wechat_configs,omitempty"`
}

type amEmail struct {
	To               string            `yaml:"to"`
	From             string            `yaml:"from"`
	Smarthost        string            `yaml:"smarthost"`
	AuthUsername     string            `yaml:"auth_username,omitempty"`
	AuthPasswordFile string            `yaml:"auth_password_file,omitempty"`
	RequireTLS       bool              `yaml:"require_tls"`
	ForceImplicitTLS *bool             `yaml:"force_implicit_tls,omitempty"`
	TLSConfig        *amTLS            `yaml:"tls_config,omitempty"`
	Headers          map[string]string `yaml:"headers"`
	HTML             string            `yaml:"html"`
	Text             string            `yaml:"text"`
	SendResolved     bool              `yaml:"send_resolved"`
}

type amTLS struct {
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

type amWebhook struct {
	URL          string        `yaml:"url,omitempty"`
	URLFile      string        `yaml:"url_file,omitempty"`
	SendResolved bool          `yaml:"send_resolved"`
	MaxAlerts    int           `yaml:"max_alerts"`
	HTTPConfig   *amHTTPConfig `yaml:"http_config,omitempty"`
}

type amHTTPConfig struct {
	Authorization *amAuthorization `yaml:"authorization,omitempty"`
}

type amAuthorization struct {
	Type            string `yaml:"type"`
	CredentialsFile string `yaml:"credentials_file"`
}

type amWechat struct {
	APIURL        string `yaml:"api_url,omitempty"`
	CorpID        string `yaml:"corp_id"`
	AgentID       string `yaml:"agent_id"`
	APISecretFile string `yaml:"api_secret_file"`
	ToUser        string `yaml:"to_user,omitempty"`
	ToParty       string `yaml:"to_party,omitempty"`
	ToTag         string `yaml:"to_tag,omitempty"`
	MessageType   string `yaml:"message_type"`
	Message       string `yaml:"message"`
	SendResolved  bool   `yaml:"send_resolved"`
}

// WorkingHoursInterval is the Alertmanager time interval of spec.alerts.working_hours.
const WorkingHoursInterval = "llmmon-working-hours"

var weekdayNames = map[string]string{"mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday"}

// Labels of the synthetic alerts `llmmon alert test` sends: the run's id and the receiver.
const (
	TestLabel         = relay.TestLabel
	TestReceiverLabel = "llmmon_test_receiver"
)

// NullReceiver catches alerts that no severity route sends anywhere.
const NullReceiver = "llmmon-null"

var words = map[string]map[string]string{
	"en": {"Firing": "FIRING", "Resolved": "RESOLVED", "Target": "Service", "Since": "Since", "Runbook": "What to do", "Dashboard": "Dashboard", "Silence": "Silence", "Value": "Value"},
	"zh": {"Firing": "告警", "Resolved": "已恢复", "Target": "服务", "Since": "开始时间", "Runbook": "处理建议", "Dashboard": "查看面板", "Silence": "静默", "Value": "当前值"},
}

func renderAlertmanager(b *Bundle, s *spec.Spec, templates fs.FS, o Options) error {
	names, err := fs.Glob(templates, "*.tmpl")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, n := range names {
		text, err := fs.ReadFile(templates, n)
		if err != nil {
			return err
		}
		t, err := template.New(n).Delims("[[", "]]").Option("missingkey=error").Parse(string(text))
		if err != nil {
			return fmt.Errorf("template %s: %w", n, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, map[string]any{"T": words[s.Language], "TZ": s.Timezone}); err != nil {
			return fmt.Errorf("template %s: %w", n, err)
		}
		b.add("alertmanager/templates/"+path.Base(n), buf.Bytes())
	}
	cfg := amConfig{
		Global:    amGlobal{ResolveTimeout: "5m"},
		Templates: []string{AMConfigDir + "/templates/*.tmpl"},
		Route: amRoute{
			Receiver:       NullReceiver,
			GroupBy:        []string{"alertname", "target", "instance"},
			GroupWait:      s.Notify.Route.GroupWait.String(),
			GroupInterval:  s.Notify.Route.GroupInterval.String(),
			RepeatInterval: s.Notify.Route.RepeatInterval.String(),
		},
		InhibitRules: []amInhibit{
			// A critical alert silences warnings about the same service or host.
			{SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity=~"warning|info"`}, Equal: []string{"target", "instance"}},
			// A service that is down makes every other alert about it noise, but what
			// auto-recovery does about it (it acts while the service is down).
			{SourceMatchers: []string{`alertname="LLMServiceDown"`}, TargetMatchers: []string{`alertname!~"LLMServiceDown|LLMAutoRecoveryAction|LLMAutoRecoveryFailed"`}, Equal: []string{"target"}},
		},
		Receivers: []amReceiver{{Name: NullReceiver}},
	}
	// `llmmon alert test` sends one synthetic alert per receiver, routed by this label to that
	// receiver alone, whatever its severity routing.
	for _, r := range s.Notify.Receivers {
		cfg.Route.Routes = append(cfg.Route.Routes, amRoute{
			Receiver:  r.Name,
			Matchers:  []string{fmt.Sprintf("%s=%q", TestReceiverLabel, r.Name)},
			GroupBy:   []string{"alertname", TestLabel},
			GroupWait: "1s",
		})
	}
	// Auto-recovery first: the agent gets its alerts and the routes below still apply.
	if len(s.Remediated()) > 0 {
		cfg.Route.Routes = append(cfg.Route.Routes, remediationRoutes(s)...)
		cfg.Receivers = append(cfg.Receivers, amReceiver{Name: RemediationReceiver, WebhookConfigs: []amWebhook{{
			URL: fmt.Sprintf("http://127.0.0.1:%d/v1/alerts", s.InternalPorts.Remediation), SendResolved: false,
			HTTPConfig: &amHTTPConfig{Authorization: &amAuthorization{Type: "Bearer", CredentialsFile: AMRelayTokenFile}}}}})
		b.addSecret("alertmanager/secrets/llmmon/relay-token", []byte(o.Credentials.RelayToken))
	}
	for _, sev := range []struct {
		name string
		list []string
	}{{"critical", s.Notify.Route.Critical}, {"warning", s.Notify.Route.Warning}, {"info", s.Notify.Route.Info}} {
		for _, r := range sev.list {
			if s.Alerts.WorkingHours == nil {
				cfg.Route.Routes = append(cfg.Route.Routes, amRoute{Receiver: r, Matchers: []string{fmt.Sprintf("severity=%q", sev.name)}, Continue: true})
				continue
			}
			// Alerts with the working-hours thresholds are notified only in working hours.
			cfg.Route.Routes = append(cfg.Route.Routes,
				amRoute{Receiver: r, Matchers: []string{fmt.Sprintf("severity=%q", sev.name), `hours="working"`}, ActiveTimes: []string{WorkingHoursInterval}, Continue: true},
				amRoute{Receiver: r, Matchers: []string{fmt.Sprintf("severity=%q", sev.name), `hours!="working"`}, Continue: true})
		}
	}
	if w := s.Alerts.WorkingHours; w != nil {
		days := make([]string, len(w.Days))
		for i, d := range w.Days {
			days[i] = weekdayNames[strings.ToLower(d)]
		}
		cfg.TimeIntervals = []amTimeInterval{{Name: WorkingHoursInterval, TimeIntervals: []amInterval{{
			Times: []amTimeRange{{StartTime: w.Start, EndTime: w.End}}, Weekdays: days, Location: s.Timezone,
		}}}}
	}
	for _, r := range s.Notify.Receivers {
		rc := amReceiver{Name: r.Name}
		secretPath := func(kind string) string { return fmt.Sprintf("%s/secrets/%s-%s", AMConfigDir, r.Name, kind) }
		addSecret := func(kind string, v spec.Secret) string {
			b.addSecret("alertmanager/secrets/"+r.Name+"-"+kind, []byte(v.Value()))
			return secretPath(kind)
		}
		switch {
		case r.Email != nil:
			e := r.Email
			ec := amEmail{
				To:           strings.Join(e.To, ", "),
				From:         e.From,
				Smarthost:    e.Smarthost,
				AuthUsername: e.Username,
				RequireTLS:   e.TLS != "none",
				Headers:      map[string]string{"Subject": `{{ template "llmmon.email.subject" . }}`},
				HTML:         `{{ template "llmmon.email.html" . }}`,
				Text:         `{{ template "llmmon.email.text" . }}`,
				SendResolved: true,
			}
			// Alertmanager picks implicit TLS from the port (465) unless told: say it.
			switch e.TLS {
			case "tls":
				ec.ForceImplicitTLS = boolPtr(true)
			case "starttls":
				ec.ForceImplicitTLS = boolPtr(false)
			}
			if e.Password != "" {
				ec.AuthPasswordFile = addSecret("smtp-password", e.Password)
			}
			if e.InsecureSkipVerify {
				ec.TLSConfig = &amTLS{InsecureSkipVerify: true}
			}
			rc.EmailConfigs = []amEmail{ec}
		case r.DingTalk != nil, r.WeCom != nil:
			// The relay accepts only requests that carry the stack's relay token.
			rc.WebhookConfigs = []amWebhook{{URL: fmt.Sprintf("http://127.0.0.1:%d/v1/notify/%s", s.InternalPorts.Relay, r.Name), SendResolved: true,
				HTTPConfig: &amHTTPConfig{Authorization: &amAuthorization{Type: "Bearer", CredentialsFile: AMRelayTokenFile}}}}
			b.addSecret("alertmanager/secrets/llmmon/relay-token", []byte(o.Credentials.RelayToken))
		case r.WeComApp != nil:
			w := r.WeComApp
			rc.WechatConfigs = []amWechat{{
				APIURL:        w.APIURL,
				CorpID:        w.CorpID,
				AgentID:       w.AgentID,
				APISecretFile: addSecret("wecom-secret", w.Secret),
				ToUser:        w.ToUser,
				ToParty:       w.ToParty,
				ToTag:         w.ToTag,
				MessageType:   "markdown",
				Message:       `{{ template "llmmon.wecom.markdown" . }}`,
				SendResolved:  true,
			}}
		case r.Webhook != nil:
			wh := amWebhook{URLFile: addSecret("webhook-url", r.Webhook.URL), SendResolved: true}
			if r.Webhook.BearerToken != "" {
				wh.HTTPConfig = &amHTTPConfig{Authorization: &amAuthorization{Type: "Bearer", CredentialsFile: addSecret("webhook-token", r.Webhook.BearerToken)}}
			}
			rc.WebhookConfigs = []amWebhook{wh}
		}
		cfg.Receivers = append(cfg.Receivers, rc)
	}
	data, err := marshalYAML(cfg, "# Generated by llmmon from your spec. Secrets live in separate files under secrets/, never here.\n")
	if err != nil {
		return err
	}
	b.add("alertmanager/alertmanager.yml", data)
	web, err := webConfig(o)
	if err != nil {
		return err
	}
	b.addSecret("alertmanager/web.yml", web)
	return nil
}

func boolPtr(b bool) *bool { return &b }
