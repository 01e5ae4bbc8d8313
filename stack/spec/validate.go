package spec

import (
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	nameRe      = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	targetRe    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	hhmmRe      = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	imageRe     = regexp.MustCompile(`^[a-z0-9]+([._/:@-][A-Za-z0-9_.-]+)*$`)
	hostPathRe  = regexp.MustCompile(`^[A-Za-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*/?$`)
	mobileRe    = regexp.MustCompile(`^\+?[0-9-]{5,20}$`)
	sizeRe      = regexp.MustCompile(`^[0-9]+(B|KB|MB|GB|TB|PB|EB)$`)
)

// ReservedLabels may not be set in a target's labels: llmmon sets them itself.
var ReservedLabels = []string{"target", "engine", "job", "instance", "stack"}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

type validator struct {
	src *Source
	ps  Problems
	// suggested counts the "did you mean" searches over the spec's own names (targets,
	// receivers), which cost one comparison per name: bounded, so that thousands of wrong
	// references to thousands of names stay fast.
	suggested int
}

// maxSuggestions is how many wrong references to targets or receivers get a "did you mean".
const maxSuggestions = 20

func (v *validator) suggest(s string, candidates []string) string {
	if v.suggested++; v.suggested > maxSuggestions {
		return ""
	}
	return suggest(s, candidates)
}

// listSome lists names for a hint: all of them when there are few, else the first ones and
// how many there are.
func listSome(names []string) string {
	const show = 10
	if len(names) <= show {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, ... (%d in all)", strings.Join(names[:show], ", "), len(names))
}

func (v *validator) add(path, msg, hint string) {
	v.addAt(v.src.At(path), path, msg, hint)
}

// addKey reports a problem with a field's name rather than its value.
func (v *validator) addKey(path, msg, hint string) {
	v.addAt(v.src.AtKey(path), path, msg, hint)
}

func (v *validator) addAt(p Pos, path, msg, hint string) {
	file := ""
	if v.src != nil {
		file = v.src.File
	}
	v.ps = append(v.ps, Problem{File: file, Line: p.Line, Col: p.Col, Path: clip(path), Msg: clip(msg), Hint: clip(hint)})
}

// Validate checks a spec after defaults and returns every problem found, or nil. src may be nil
// (for a spec built in code); positions then point at the start of the file.
func (s *Spec) Validate(src *Source) error {
	v := &validator{src: src}
	if s.Version != 1 {
		v.add("version", fmt.Sprintf("unsupported spec version %d", s.Version), "this llmmon reads version 1")
	}
	if !nameRe.MatchString(s.Name) {
		v.add("name", fmt.Sprintf("invalid stack name %q", s.Name), "use 1-40 lower-case letters, digits, - and _, starting with a letter or digit")
	}
	if ip := net.ParseIP(s.Bind); ip == nil {
		v.add("bind", fmt.Sprintf("bind must be an IP address, got %q", s.Bind), "127.0.0.1 keeps the UIs on this host; 0.0.0.0 publishes them on every interface")
	}
	if s.Language != "en" && s.Language != "zh" {
		v.add("language", fmt.Sprintf("unknown language %q", s.Language), "use en or zh")
	}
	if _, err := time.LoadLocation(s.Timezone); err != nil || s.Timezone == "" || s.Timezone == "Local" {
		hint := "use an IANA time zone name such as UTC, Asia/Shanghai or Europe/Berlin"
		if sug := suggestZone(s.Timezone); sug != "" {
			hint = fmt.Sprintf("did you mean %q? ", sug) + hint
		}
		v.add("timezone", fmt.Sprintf("unknown time zone %q", s.Timezone), hint)
	}
	if s.GPU != "auto" && s.GPU != "on" && s.GPU != "off" {
		v.add("gpu", fmt.Sprintf("gpu must be auto, on or off, got %q", s.GPU), "auto runs dcgm-exporter when an NVIDIA GPU and runtime are present; on requires them; off never runs it")
	}
	if a := s.DCGMExporterAddress; a != "" {
		if h, port, err := net.SplitHostPort(a); err != nil || h == "" || port == "" {
			v.add("dcgm_exporter_address", fmt.Sprintf("%q must be host:port", a), "e.g. 127.0.0.1:9400")
		}
	}
	if a := s.NvidiaSmiExporterAddress; a != "" {
		if h, port, err := net.SplitHostPort(a); err != nil || h == "" || port == "" {
			v.add("nvidia_smi_exporter_address", fmt.Sprintf("%q must be host:port", a), "e.g. 127.0.0.1:9835, where `llmmon gpu-exporter` listens by default")
		}
	}
	v.ports(s)
	v.prometheus(s)
	v.targets(s)
	v.limits(s)
	v.alerts(s)
	v.remediation(s, nil) // alert names are checked when rendering, where the packs are
	v.slo("slo", s.SLO)
	for i, t := range s.Targets {
		v.slo(fmt.Sprintf("targets[%d].slo", i), t.SLO)
		if t.SLO != nil && t.Engine == EngineLlamaCPP {
			v.addKey(fmt.Sprintf("targets[%d].slo", i), "llama.cpp counts neither requests nor errors, so an SLO of it cannot be measured", "remove slo from this target; LLMServiceDown still tells when it is down")
		}
	}
	if len(v.ps) == 0 {
		v.sloReachable(s)
	}
	v.notify(s)
	v.report(s)
	v.fleet(s)
	v.images(s)
	if s.Grafana.AdminPassword != "" && s.Grafana.AdminPasswordFile != "" {
		v.add("grafana.admin_password_file", "set admin_password or admin_password_file, not both", "remove one of the two lines")
	}
	v.secretFile("grafana.admin_password_file", s.Grafana.AdminPasswordFile)
	if s.Alertmanager.ExternalURL != "" {
		if u, err := url.Parse(s.Alertmanager.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("alertmanager.external_url", fmt.Sprintf("invalid URL %q", s.Alertmanager.ExternalURL), "write http://host:port or https://host")
		}
	}
	if s.Grafana.ExternalURL != "" {
		if u, err := url.Parse(s.Grafana.ExternalURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("grafana.external_url", fmt.Sprintf("invalid URL %q", s.Grafana.ExternalURL), "write http://host:port or https://host")
		}
	}
	if len(v.ps) == 0 {
		return nil
	}
	return v.ps.sorted()
}

func suggestZone(z string) string {
	common := []string{"UTC", "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Asia/Seoul", "Asia/Kolkata", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago", "America/Los_Angeles", "Australia/Sydney"}
	return suggest(z, common)
}

func (v *validator) ports(s *Spec) {
	seen := map[int]string{}
	for _, p := range []struct {
		path string
		port int
	}{{"prometheus.port", s.Prometheus.Port}, {"alertmanager.port", s.Alertmanager.Port}, {"grafana.port", s.Grafana.Port},
		{"internal_ports.node_exporter", s.InternalPorts.NodeExporter}, {"internal_ports.dcgm_exporter", s.InternalPorts.DCGMExporter}, {"internal_ports.relay", s.InternalPorts.Relay}, {"internal_ports.gpu_exporter", s.InternalPorts.GPUExporter}, {"internal_ports.victoriametrics", s.InternalPorts.VictoriaMetrics}} {
		if p.port < 1 || p.port > 65535 {
			v.add(p.path, fmt.Sprintf("port %d is out of range", p.port), "use 1-65535")
			continue
		}
		if other, ok := seen[p.port]; ok {
			v.add(p.path, fmt.Sprintf("port %d is also used by %s", p.port, other), "give each component its own port")
		}
		seen[p.port] = p.path
	}
}

func (v *validator) prometheus(s *Spec) {
	p := s.Prometheus
	if p.ScrapeInterval.D() < time.Second {
		v.add("prometheus.scrape_interval", fmt.Sprintf("scrape_interval %s is too short", p.ScrapeInterval), "use at least 1s; the default is 5s")
	}
	if p.EvaluationInterval.D() < time.Second {
		v.add("prometheus.evaluation_interval", fmt.Sprintf("evaluation_interval %s is too short", p.EvaluationInterval), "use at least 1s; the default is 5s")
	}
	if p.Retention.D() < time.Hour {
		v.add("prometheus.retention", fmt.Sprintf("retention %s is too short", p.Retention), "keep at least 1h; the default is 15d")
	}
	if p.RetentionSize != "" && !sizeRe.MatchString(p.RetentionSize) {
		v.add("prometheus.retention_size", fmt.Sprintf("invalid size %q", p.RetentionSize), "write a number and a unit, e.g. 50GB")
	}
}

// ParseTargetURL splits a target's url (http(s)://host:port[/path] or host:port) into scheme,
// host:port and path.
func ParseTargetURL(raw string) (scheme, hostport, path string, err error) {
	if raw == "" {
		return "", "", "", fmt.Errorf("url is empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", "", "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", "", "", fmt.Errorf("no host")
	}
	if u.User != nil {
		return "", "", "", fmt.Errorf("credentials in the URL are not supported")
	}
	port := u.Port()
	if port == "" {
		if u.Scheme == "https" {
			port = "443"
		} else {
			port = "80"
		}
	}
	if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
		return "", "", "", fmt.Errorf("port %q is not 1-65535", port)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", "", "", fmt.Errorf("query strings and fragments are not supported")
	}
	return u.Scheme, net.JoinHostPort(u.Hostname(), port), u.Path, nil
}

func (v *validator) targets(s *Spec) {
	names := map[string]int{}
	for i, t := range s.Targets {
		p := fmt.Sprintf("targets[%d]", i)
		if t.Name == "" {
			v.add(p, "target has no name", "add `name: my-model`")
		} else if !targetRe.MatchString(t.Name) {
			v.add(p+".name", fmt.Sprintf("invalid target name %q", t.Name), "use letters, digits, -, _ and . (at most 63)")
		} else if j, dup := names[t.Name]; dup {
			v.add(p+".name", fmt.Sprintf("duplicate target name %q (also targets[%d])", t.Name, j), "give every target its own name")
		} else {
			names[t.Name] = i
		}
		if t.Engine == EngineOllama {
			v.add(p+".engine", "Ollama has no Prometheus metrics endpoint, so llmmon cannot scrape it", "put a metrics exporter or an LLM gateway in front of Ollama and point llmmon at that (engine: custom); GPU and host metrics still cover the machine")
		} else if !slices.Contains(Engines, t.Engine) {
			hint := "use one of: " + strings.Join(Engines, ", ")
			if sug := suggest(t.Engine, Engines); sug != "" {
				hint = fmt.Sprintf("did you mean %q? ", sug) + hint
			}
			v.add(p+".engine", fmt.Sprintf("unknown engine %q", t.Engine), hint)
		}
		if t.URL == "" {
			v.add(p, "target has no url", "add `url: http://127.0.0.1:8000` (or host:port)")
		} else if _, _, _, err := ParseTargetURL(t.URL); err != nil {
			v.add(p+".url", fmt.Sprintf("invalid url %q: %v", t.URL, err), "write http://host:port[/metrics] or host:port")
		}
		if t.MetricsPath != "" && !strings.HasPrefix(t.MetricsPath, "/") {
			v.add(p+".metrics_path", fmt.Sprintf("metrics_path %q must start with /", t.MetricsPath), "write the path part only, e.g. /metrics")
		}
		if t.ScrapeInterval != 0 && t.ScrapeInterval.D() < time.Second {
			v.add(p+".scrape_interval", fmt.Sprintf("scrape_interval %s is too short", t.ScrapeInterval), "use at least 1s, or leave it out to use prometheus.scrape_interval")
		}
		v.metrics(p, t)
		v.kubeTarget(p+".kubernetes", t.Kubernetes)
		for _, k := range sortedKeys(t.Labels) {
			lp := p + ".labels." + k
			switch {
			case !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__"):
				v.addKey(lp, fmt.Sprintf("invalid label name %q", k), "label names are letters, digits and _, not starting with a digit or __")
			case slices.Contains(ReservedLabels, k):
				v.addKey(lp, fmt.Sprintf("label %q is set by llmmon", k), "choose another name; reserved: "+strings.Join(ReservedLabels, ", "))
			}
		}
	}
}

func (v *validator) thresholds(path string, t Thresholds) {
	pct := []struct {
		name string
		val  float64
	}{{"cpu_percent", t.CPUPercent}, {"memory_percent", t.MemoryPercent}, {"disk_percent", t.DiskPercent}, {"error_rate_percent", t.ErrorRatePercent}, {"kv_cache_percent", t.KVCachePercent}, {"gpu_memory_percent", t.GPUMemoryPercent}}
	for _, p := range pct {
		if p.val < 0 || p.val > 100 {
			v.add(path+"."+p.name, fmt.Sprintf("%s must be between 0 and 100, got %g", p.name, p.val), "thresholds in percent: 90 means 90 %")
		}
	}
	for _, p := range []struct {
		name string
		val  float64
	}{{"throughput_min", t.ThroughputMin}, {"queue_length", t.QueueLength}, {"gpu_temp_celsius", t.GPUTempCelsius}} {
		if p.val < 0 {
			v.add(path+"."+p.name, fmt.Sprintf("%s must not be negative, got %g", p.name, p.val), "write a number above 0, or leave the field out to get the default")
		}
	}
	for _, p := range []struct {
		name string
		val  Duration
	}{{"latency_p95", t.LatencyP95}, {"ttft_p95", t.TTFTP95}, {"tpot_p95", t.TPOTP95}, {"down_for", t.DownFor}} {
		if p.val < 0 {
			v.add(path+"."+p.name, fmt.Sprintf("%s must not be negative", p.name), "write a duration above zero such as 500ms or 30s, or leave the field out to get the default")
		}
	}
}

func (v *validator) alerts(s *Spec) {
	v.thresholds("alerts.thresholds", s.Alerts.Thresholds)
	var names []string
	targets := map[string]bool{}
	for _, t := range s.Targets {
		names = append(names, t.Name)
		targets[t.Name] = true
	}
	for i, o := range s.Alerts.Overrides {
		p := fmt.Sprintf("alerts.overrides[%d]", i)
		switch {
		case o.Target == "" && o.Engine == "":
			v.add(p, "an override needs a target or an engine", "add `target: NAME` or `engine: vllm`")
		case o.Target != "" && o.Engine != "":
			v.add(p, "an override names a target or an engine, not both", "split it into two overrides, one with `target:` and one with `engine:`")
		case o.Target != "":
			if !targets[o.Target] {
				hint := "targets: " + listSome(names)
				if len(names) == 0 {
					hint = "the spec has no targets; add the target under targets, or write `engine: vllm` to override a whole engine"
				} else if sug := v.suggest(o.Target, names); sug != "" {
					hint = fmt.Sprintf("did you mean %q? ", sug) + hint
				}
				v.add(p+".target", fmt.Sprintf("no target named %q", o.Target), hint)
			}
		case !slices.Contains(Engines, o.Engine) || o.Engine == EngineAuto:
			v.add(p+".engine", fmt.Sprintf("unknown engine %q", o.Engine), "use one of: vllm, sglang, tgi, llamacpp, triton, lmdeploy, custom")
		}
		v.thresholds(p+".thresholds", o.Thresholds)
	}
	if w := s.Alerts.WorkingHours; w != nil {
		p := "alerts.working_hours"
		if !hhmmRe.MatchString(w.Start) {
			v.add(p+".start", fmt.Sprintf("invalid time %q", w.Start), "write HH:MM, e.g. 09:00")
		}
		if !hhmmRe.MatchString(w.End) {
			v.add(p+".end", fmt.Sprintf("invalid time %q", w.End), "write HH:MM, e.g. 18:00")
		}
		if hhmmRe.MatchString(w.Start) && hhmmRe.MatchString(w.End) && w.Start >= w.End {
			v.add(p+".end", "working hours must end after they start", "write both times as HH:MM in 24-hour form, e.g. start: \"09:00\", end: \"18:00\"; working hours cannot cross midnight")
		}
		for i, d := range w.Days {
			if !slices.Contains(weekdays, strings.ToLower(d)) {
				v.add(fmt.Sprintf("%s.days[%d]", p, i), fmt.Sprintf("unknown day %q", d), "use mon, tue, wed, thu, fri, sat, sun")
			}
		}
		v.thresholds(p+".thresholds", w.Thresholds)
	}
	if a := s.Alerts.Anomaly; a != nil {
		if a.Baseline != AnomalyRecent && a.Baseline != AnomalyLastWeek {
			v.add("alerts.anomaly.baseline", fmt.Sprintf("unknown baseline %q", a.Baseline), "use recent (a z-score against the last window) or last_week (the same hour a week earlier)")
		}
		if a.ChangePercent < 0 || a.ChangePercent >= 100 && a.Baseline == AnomalyLastWeek {
			v.add("alerts.anomaly.change_percent", fmt.Sprintf("change_percent %g is out of range", a.ChangePercent), "use a percent between 1 and 99; 50 (the default) means latency 1.5x last week's or throughput half of it")
		}
		if a.ZScore <= 0 {
			v.add("alerts.anomaly.z_score", "z_score must be positive", "3 is a common choice")
		}
		if a.Window.D() < 10*time.Minute {
			v.add("alerts.anomaly.window", fmt.Sprintf("the anomaly window %s is too short", a.Window), "use at least 10m; the default is 1h")
		}
	}
}

func (v *validator) secretFile(path, file string) {
	if file == "" {
		return
	}
	st, err := os.Stat(file)
	switch {
	case err != nil:
		v.add(path, fmt.Sprintf("cannot read %s: %v", file, unwrapPathErr(err)), "create the file, or fix the path")
	case st.IsDir():
		v.add(path, fmt.Sprintf("%s is a directory", file), "point at the file holding the secret")
	}
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func (v *validator) secretURL(path string, val Secret, file, mustHost, mustParam string) {
	if val == "" && file == "" {
		v.add(path, "url is required", "write url: ${VAR} and export VAR, or url_file: /path/to/file")
		return
	}
	if val != "" && file != "" {
		v.add(path, "set url or url_file, not both", "remove one of the two lines")
		return
	}
	v.secretFile(path+"_file", file)
	if val == "" {
		return
	}
	// The URL may hold a token: never echo it.
	u, err := url.Parse(val.Value())
	switch {
	case err != nil || u.Host == "":
		v.add(path, "the URL is not valid (value hidden: it may hold a token)", "write the full https://... address the platform gave you")
	case u.Scheme != "https" && u.Scheme != "http":
		v.add(path, "the URL must start with https://", "copy the whole address the platform gave you, starting with https://")
	case mustParam != "" && u.Query().Get(mustParam) == "":
		v.add(path, fmt.Sprintf("the URL has no %s parameter", mustParam), fmt.Sprintf("copy the whole webhook address, e.g. https://%s?%s=...", mustHost, mustParam))
	}
}

func (v *validator) notify(s *Spec) {
	names := map[string]int{}
	var all []string
	for i, r := range s.Notify.Receivers {
		p := fmt.Sprintf("notify.receivers[%d]", i)
		if r.Name == "" {
			v.add(p, "receiver has no name", "add `name: oncall`")
		} else if !targetRe.MatchString(r.Name) {
			v.add(p+".name", fmt.Sprintf("invalid receiver name %q", r.Name), "use letters, digits, -, _ and .")
		} else if j, dup := names[r.Name]; dup {
			v.add(p+".name", fmt.Sprintf("duplicate receiver name %q (also notify.receivers[%d])", r.Name, j), "give every receiver its own name")
		} else {
			names[r.Name] = i
			all = append(all, r.Name)
		}
		n := 0
		for _, set := range []bool{r.Email != nil, r.DingTalk != nil, r.WeCom != nil, r.WeComApp != nil, r.Webhook != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.add(p, fmt.Sprintf("receiver %q must have exactly one of email, dingtalk, wecom, wecom_app, webhook (it has %d)", r.Name, n), "split a receiver with two kinds into two receivers, each with its own name")
		}
		if e := r.Email; e != nil {
			v.email(p+".email", e)
		}
		if d := r.DingTalk; d != nil {
			v.secretURL(p+".dingtalk.url", d.URL, d.URLFile, "oapi.dingtalk.com/robot/send", "access_token")
			if d.Secret != "" && d.SecretFile != "" {
				v.add(p+".dingtalk.secret_file", "set secret or secret_file, not both", "remove one of the two lines")
			}
			v.secretFile(p+".dingtalk.secret_file", d.SecretFile)
			if d.Secret != "" && !strings.HasPrefix(d.Secret.Value(), "SEC") {
				v.add(p+".dingtalk.secret", "a DingTalk signing secret starts with SEC (value hidden)", "copy it from the robot's security settings, \"加签\"")
			}
			for j, m := range d.AtMobiles {
				if !mobileRe.MatchString(m) {
					v.add(fmt.Sprintf("%s.dingtalk.at_mobiles[%d]", p, j), fmt.Sprintf("%q is not a mobile number", m), "write the number as digits, e.g. \"13800000000\" (quoted)")
				}
			}
		}
		if w := r.WeCom; w != nil {
			v.secretURL(p+".wecom.url", w.URL, w.URLFile, "qyapi.weixin.qq.com/cgi-bin/webhook/send", "key")
		}
		if w := r.WeComApp; w != nil {
			q := p + ".wecom_app"
			if w.CorpID == "" {
				v.add(q, "wecom_app needs corp_id", "find it under My Company > Company Info")
			}
			if w.AgentID == "" {
				v.add(q, "wecom_app needs agent_id", "find it on the application's page in the WeCom admin console, e.g. agent_id: \"1000002\"")
			}
			if w.Secret == "" && w.SecretFile == "" {
				v.add(q, "wecom_app needs secret or secret_file", "write secret: ${WECOM_APP_SECRET}")
			}
			v.secretFile(q+".secret_file", w.SecretFile)
			if w.ToUser == "" && w.ToParty == "" && w.ToTag == "" {
				v.add(q, "wecom_app needs to_user, to_party or to_tag", "to_user: \"@all\" sends to everyone in the app's visible range")
			}
			if w.APIURL != "" {
				if u, err := url.Parse(w.APIURL); err != nil || u.Host == "" {
					v.add(q+".api_url", fmt.Sprintf("invalid URL %q", w.APIURL), "leave it out for https://qyapi.weixin.qq.com/cgi-bin/, or write a full https://host/path/ address")
				}
			}
		}
		if w := r.Webhook; w != nil {
			v.secretURL(p+".webhook.url", w.URL, w.URLFile, "", "")
			v.secretFile(p+".webhook.bearer_token_file", w.BearerTokenFile)
		}
	}
	rt := s.Notify.Route
	for _, sev := range []struct {
		name string
		list []string
	}{{"critical", rt.Critical}, {"warning", rt.Warning}, {"info", rt.Info}} {
		for i, n := range sev.list {
			if _, ok := names[n]; !ok {
				hint := "receivers: " + listSome(all)
				if len(all) == 0 {
					hint = "define it under notify.receivers"
				} else if sug := v.suggest(n, all); sug != "" {
					hint = fmt.Sprintf("did you mean %q? ", sug) + hint
				}
				v.add(fmt.Sprintf("notify.route.%s[%d]", sev.name, i), fmt.Sprintf("no receiver named %q", n), hint)
			}
		}
	}
	if rt.GroupInterval.D() < time.Second {
		v.add("notify.route.group_interval", fmt.Sprintf("group_interval %s is too short", rt.GroupInterval), "use at least 1s; the default is 1m")
	}
	if rt.RepeatInterval.D() < time.Minute {
		v.add("notify.route.repeat_interval", fmt.Sprintf("repeat_interval %s is too short", rt.RepeatInterval), "use at least 1m; the default is 4h")
	}
}

func (v *validator) email(p string, e *Email) {
	if len(e.To) == 0 {
		v.add(p, "email needs at least one address in `to`", "to: [oncall@example.com]")
	}
	for i, a := range e.To {
		if _, err := mail.ParseAddress(a); err != nil {
			v.add(fmt.Sprintf("%s.to[%d]", p, i), fmt.Sprintf("%q is not an email address", a), "write name@example.com")
		}
	}
	if e.From == "" {
		v.add(p, "email needs `from`, the sender address", "from: llmmon@example.com")
	} else if _, err := mail.ParseAddress(e.From); err != nil {
		v.add(p+".from", fmt.Sprintf("%q is not an email address", e.From), "write name@example.com")
	}
	if e.Smarthost == "" {
		v.add(p, "email needs `smarthost`, the SMTP server as host:port", "smarthost: smtp.example.com:587")
	} else if h, port, err := net.SplitHostPort(e.Smarthost); err != nil || h == "" || port == "" {
		v.add(p+".smarthost", fmt.Sprintf("smarthost %q must be host:port", e.Smarthost), "e.g. smtp.example.com:587 (STARTTLS) or :465 (TLS)")
	}
	switch e.TLS {
	case "starttls", "tls", "none":
	default:
		hint := "starttls: port 587; tls: implicit TLS, port 465; none: an open relay on this host"
		if strings.EqualFold(e.TLS, "ssl") || strings.EqualFold(e.TLS, "smtps") {
			hint = "SSL/SMTPS is written tls (implicit TLS, port 465)"
		}
		v.add(p+".tls", fmt.Sprintf("tls must be starttls, tls or none, got %q", e.TLS), hint)
	}
	if e.Password != "" && e.PasswordFile != "" {
		v.add(p+".password_file", "set password or password_file, not both", "remove one of the two lines")
	}
	if e.Username != "" && e.Password == "" && e.PasswordFile == "" {
		v.add(p, "email has a username but no password", "add password: ${SMTP_PASSWORD} or password_file: /path")
	}
	if (e.Password != "" || e.PasswordFile != "") && e.Username == "" {
		v.add(p, "email has a password but no username", "add username: the SMTP login")
	}
	v.secretFile(p+".password_file", e.PasswordFile)
	if _, port, err := net.SplitHostPort(e.Smarthost); err == nil && port == "465" && e.TLS == "starttls" {
		v.add(p+".tls", "port 465 speaks TLS from the first byte, so STARTTLS cannot work there", "write tls: tls, or use port 587 for STARTTLS")
	}
	if h, _, err := net.SplitHostPort(e.Smarthost); err == nil && e.TLS == "none" && (e.Password != "" || e.PasswordFile != "") && !isLoopback(h) {
		v.add(p+".tls", "tls: none with a password: the password would cross the network in clear text, and Alertmanager refuses to send it to a remote server", "use tls: starttls (port 587) or tls (port 465), or drop username and password for an open local relay")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) images(s *Spec) {
	if m := s.Images.Mirror; m != "" && !hostPathRe.MatchString(m) {
		v.add("images.mirror", fmt.Sprintf("invalid registry mirror %q", m), "write a registry host with an optional path, e.g. docker.m.daocloud.io (no https://)")
	}
	for _, im := range []struct{ path, ref string }{
		{"images.prometheus", s.Images.Prometheus}, {"images.alertmanager", s.Images.Alertmanager},
		{"images.grafana", s.Images.Grafana}, {"images.node_exporter", s.Images.NodeExporter},
		{"images.dcgm_exporter", s.Images.DCGMExporter},
	} {
		if im.ref == "" {
			continue
		}
		if !imageRe.MatchString(im.ref) {
			v.add(im.path, fmt.Sprintf("invalid image reference %q", im.ref), "write registry/name:tag, e.g. prom/prometheus:v3.15.0")
		} else if strings.HasSuffix(im.ref, ":latest") || !strings.ContainsAny(lastPart(im.ref), ":@") {
			v.add(im.path, fmt.Sprintf("image %q is not pinned", im.ref), "name a version tag or digest; `latest` changes under you")
		}
	}
}

func lastPart(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// kubeTarget checks a target's kubernetes block with Kubernetes' own name rules.
func (v *validator) kubeTarget(p string, k *KubeTarget) {
	if k == nil {
		return
	}
	if k.Namespace != "" {
		if errs := k8svalidation.IsDNS1123Label(k.Namespace); len(errs) > 0 {
			v.add(p+".namespace", fmt.Sprintf("invalid namespace %q: %s", k.Namespace, errs[0]), "a namespace is lower-case letters, digits and -, at most 63")
		}
	}
	if k.Port != "" {
		if errs := k8svalidation.IsValidPortName(k.Port); len(errs) > 0 {
			v.add(p+".port", fmt.Sprintf("invalid port name %q: %s", k.Port, errs[0]), "name the port as the Service's (or Pod's) ports[].name says, e.g. http or metrics")
		}
	}
	for _, key := range sortedKeys(k.Selector) {
		if errs := k8svalidation.IsQualifiedName(key); len(errs) > 0 {
			v.addKey(p+".selector."+key, fmt.Sprintf("invalid label key %q: %s", key, errs[0]), "use the label key of the Service or Pods, e.g. app.kubernetes.io/name")
		} else if errs := k8svalidation.IsValidLabelValue(k.Selector[key]); len(errs) > 0 {
			v.add(p+".selector."+key, fmt.Sprintf("invalid label value %q: %s", k.Selector[key], errs[0]), "label values are at most 63 letters, digits, -, _ and .")
		}
	}
}
