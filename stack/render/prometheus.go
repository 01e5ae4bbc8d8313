package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/spec"
)

type promConfig struct {
	Global        promGlobal        `yaml:"global"`
	Alerting      *promAlerting     `yaml:"alerting,omitempty"`
	RuleFiles     []string          `yaml:"rule_files,omitempty"`
	ScrapeConfigs []promScrapeJob   `yaml:"scrape_configs"`
	RemoteWrite   []promRemoteWrite `yaml:"remote_write,omitempty"`
}

type promGlobal struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	ScrapeTimeout      string            `yaml:"scrape_timeout"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels"`
	// ExtraScrapeMetrics adds scrape_sample_limit and scrape_body_size_bytes to every target,
	// which the ScrapeLimitExceeded alerts read.
	ExtraScrapeMetrics bool `yaml:"extra_scrape_metrics"`
}

type promAlerting struct {
	Alertmanagers []promAMConfig `yaml:"alertmanagers"`
}

type promAMConfig struct {
	BasicAuth     *promBasicAuth `yaml:"basic_auth,omitempty"`
	StaticConfigs []promStatic   `yaml:"static_configs"`
}

type promBasicAuth struct {
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
}

type promStatic struct {
	Targets []string          `yaml:"targets"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

type promFileSD struct {
	Files           []string `yaml:"files"`
	RefreshInterval string   `yaml:"refresh_interval"`
}

// promRemoteWrite is one remote_write entry; its secrets are files.
type promRemoteWrite struct {
	Name          string            `yaml:"name"`
	URL           string            `yaml:"url"`
	BasicAuth     *promBasicAuth    `yaml:"basic_auth,omitempty"`
	Authorization *promAuthz        `yaml:"authorization,omitempty"`
	TLSConfig     *promTLS          `yaml:"tls_config,omitempty"`
	Headers       map[string]string `yaml:"headers,omitempty"`
	QueueConfig   *promQueue        `yaml:"queue_config,omitempty"`
}

type promAuthz struct {
	CredentialsFile string `yaml:"credentials_file"`
}

type promTLS struct {
	CAFile             string `yaml:"ca_file,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
}

type promQueue struct {
	Capacity          int    `yaml:"capacity,omitempty"`
	MaxShards         int    `yaml:"max_shards,omitempty"`
	MaxSamplesPerSend int    `yaml:"max_samples_per_send,omitempty"`
	BatchSendDeadline string `yaml:"batch_send_deadline,omitempty"`
}

type promRelabel struct {
	TargetLabel string `yaml:"target_label"`
	Replacement string `yaml:"replacement"`
}

type promScrapeJob struct {
	JobName        string         `yaml:"job_name"`
	RelabelConfigs []promRelabel  `yaml:"relabel_configs,omitempty"`
	ScrapeInterval string         `yaml:"scrape_interval,omitempty"`
	MetricsPath    string         `yaml:"metrics_path,omitempty"`
	BasicAuth      *promBasicAuth `yaml:"basic_auth,omitempty"`
	StaticConfigs  []promStatic   `yaml:"static_configs,omitempty"`
	FileSDConfigs  []promFileSD   `yaml:"file_sd_configs,omitempty"`
	promLimits     `yaml:",inline"`
}

// promLimits are a scrape job's limits. Prometheus applies them per job (scrape config), so a
// target with limits of its own gets a job of its own.
type promLimits struct {
	BodySizeLimit         string `yaml:"body_size_limit"`
	SampleLimit           int    `yaml:"sample_limit"`
	LabelLimit            int    `yaml:"label_limit"`
	LabelNameLengthLimit  int    `yaml:"label_name_length_limit"`
	LabelValueLengthLimit int    `yaml:"label_value_length_limit"`
}

func promLimitsOf(l spec.Limits) (promLimits, error) {
	n, err := spec.ParseSize(l.BodySize)
	if err != nil {
		return promLimits{}, err
	}
	return promLimits{
		BodySizeLimit:         spec.FormatSize(n),
		SampleLimit:           l.Samples,
		LabelLimit:            l.Labels,
		LabelNameLengthLimit:  l.LabelNameLength,
		LabelValueLengthLimit: l.LabelValueLength,
	}, nil
}

// OwnJob returns the scrape job of a target whose limits differ from the stack's, or "" for a
// target scraped by its engine's job (through file_sd). The target's series keep the engine's
// job label either way (the job's static config sets it), so rules and dashboards, which match
// on job, see no difference; only the scrape pool's name, in Prometheus' targets page, differs.
func OwnJob(s *spec.Spec, t spec.Target) string {
	if t.Limits == nil {
		return ""
	}
	own, oerr := promLimitsOf(s.LimitsFor(t))
	stack, serr := promLimitsOf(s.LimitsFor(spec.Target{}))
	if oerr == nil && serr == nil && own == stack {
		return "" // the same limits, written differently (64MB, 64MiB)
	}
	return JobFor(t.Engine) + "-" + t.Name
}

// TargetGroup is one entry of a file_sd JSON file.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// TargetGroups returns the file_sd entries of the spec's model services, by scrape job. Every
// job in Jobs has an entry, possibly empty, so that adding a target never needs a new job.
func TargetGroups(s *spec.Spec) (map[string][]TargetGroup, error) {
	out := map[string][]TargetGroup{}
	for _, j := range Jobs {
		out[j] = []TargetGroup{}
	}
	for _, t := range s.Targets {
		if OwnJob(s, t) != "" {
			continue
		}
		g, err := TargetGroupFor(s, t)
		if err != nil {
			return nil, err
		}
		job := JobFor(t.Engine)
		out[job] = append(out[job], g)
	}
	for _, gs := range out {
		sort.Slice(gs, func(i, j int) bool { return gs[i].Labels["target"] < gs[j].Labels["target"] })
	}
	return out, nil
}

// TargetGroupFor returns the file_sd entry of one target.
func TargetGroupFor(s *spec.Spec, t spec.Target) (TargetGroup, error) {
	scheme, hostport, path, err := spec.ParseTargetURL(t.URL)
	if err != nil {
		return TargetGroup{}, fmt.Errorf("target %s: %w", t.Name, err)
	}
	mp := t.MetricsPath
	if mp == "" {
		mp = path
	}
	if mp == "" || mp == "/" {
		mp = "/metrics"
	}
	labels := map[string]string{}
	for k, v := range t.Labels {
		labels[k] = v
	}
	labels["target"] = t.Name
	labels["engine"] = t.Engine
	labels["__scheme__"] = scheme
	labels["__metrics_path__"] = mp
	iv := t.ScrapeInterval
	if iv == 0 {
		iv = s.Prometheus.ScrapeInterval
	}
	if iv != s.Prometheus.ScrapeInterval {
		labels["__scrape_interval__"] = iv.String()
		labels["__scrape_timeout__"] = spec.Duration(min(iv.D(), 10*time.Second)).String()
	}
	return TargetGroup{Targets: []string{hostport}, Labels: labels}, nil
}

// TargetFile renders one job's file_sd JSON.
func TargetFile(groups []TargetGroup) ([]byte, error) {
	if groups == nil {
		groups = []TargetGroup{}
	}
	data, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

func renderPrometheus(b *Bundle, s *spec.Spec, o Options) error {
	local := hostForURL(s.LocalAddr())
	timeout := min(s.Prometheus.ScrapeInterval.D(), 10*time.Second)
	// Prometheus logs in to itself and to Alertmanager as APIUser.
	auth := &promBasicAuth{Username: APIUser, PasswordFile: PromPasswordFile}
	web, err := webConfig(o)
	if err != nil {
		return err
	}
	b.addSecret("prometheus/web.yml", web)
	b.addSecret("prometheus/secrets/llmmon/password", []byte(o.Credentials.APIPassword))
	cfg := promConfig{
		Global: promGlobal{
			ScrapeInterval:     s.Prometheus.ScrapeInterval.String(),
			ScrapeTimeout:      spec.Duration(timeout).String(),
			EvaluationInterval: s.Prometheus.EvaluationInterval.String(),
			ExternalLabels:     map[string]string{"stack": s.Name},
			ExtraScrapeMetrics: true,
		},
	}
	self := []promScrapeJob{
		{JobName: "prometheus", BasicAuth: auth, StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("%s:%d", local, s.Prometheus.Port)}}}},
	}
	// An agent (Prometheus in agent mode) has no rules and no Alertmanager: it sends.
	if s.Role() != spec.RoleAgent {
		cfg.Alerting = &promAlerting{Alertmanagers: []promAMConfig{{BasicAuth: auth, StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("%s:%d", local, s.Alertmanager.Port)}}}}}}
		cfg.RuleFiles = []string{PromConfigDir + "/rules/*.yml"}
		self = append(self, promScrapeJob{JobName: "alertmanager", BasicAuth: auth, StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("%s:%d", local, s.Alertmanager.Port)}}}})
	}
	if *s.Host {
		self = append(self, promScrapeJob{JobName: "node", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.NodeExporter)}}}})
	}
	if s.DCGMExporterAddress != "" {
		self = append(self, promScrapeJob{JobName: "dcgm", StaticConfigs: []promStatic{{Targets: []string{s.DCGMExporterAddress}}}})
	} else if o.GPU {
		self = append(self, promScrapeJob{JobName: "dcgm", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.DCGMExporter)}}}})
	}
	if s.NvidiaSmiExporterAddress != "" {
		self = append(self, promScrapeJob{JobName: "nvidia-smi", StaticConfigs: []promStatic{{Targets: []string{s.NvidiaSmiExporterAddress}}}})
	} else if o.GPUExporter {
		self = append(self, promScrapeJob{JobName: "nvidia-smi", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.GPUExporter)}}}})
	}
	if len(s.Remediated()) > 0 {
		self = append(self, promScrapeJob{JobName: "remediation", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.Remediation)}}}})
	}
	if o.Relay {
		self = append(self, promScrapeJob{JobName: "relay", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.Relay)}}}})
	}
	stackLimits, err := promLimitsOf(s.LimitsFor(spec.Target{}))
	if err != nil {
		return fmt.Errorf("prometheus.limits: %w", err)
	}
	for i := range self {
		self[i].promLimits = stackLimits
	}
	cfg.ScrapeConfigs = self
	groups, err := TargetGroups(s)
	if err != nil {
		return err
	}
	for _, j := range Jobs {
		cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, promScrapeJob{
			JobName:       j,
			FileSDConfigs: []promFileSD{{Files: []string{PromConfigDir + "/targets/" + j + ".json"}, RefreshInterval: "30s"}},
			promLimits:    stackLimits,
		})
		data, err := TargetFile(groups[j])
		if err != nil {
			return err
		}
		b.add("prometheus/targets/"+j+".json", data)
	}
	own, err := ownJobs(s)
	if err != nil {
		return err
	}
	cfg.ScrapeConfigs = append(cfg.ScrapeConfigs, own...)
	// In a fleet every series carries the host it comes from.
	if h := s.HostName(); h != "" {
		for i := range cfg.ScrapeConfigs {
			cfg.ScrapeConfigs[i].RelabelConfigs = append(cfg.ScrapeConfigs[i].RelabelConfigs, promRelabel{TargetLabel: "host", Replacement: h})
		}
	}
	cfg.RemoteWrite = remoteWrite(b, s)
	data, err := marshalYAML(cfg, "# Generated by llmmon from your spec. Edit the spec, not this file: `llmmon up` rewrites it.\n")
	if err != nil {
		return err
	}
	b.add("prometheus/prometheus.yml", data)
	return nil
}

// ownJobs returns the scrape jobs of the targets with limits of their own, sorted by name. Their
// static config carries the same labels as a file_sd entry, plus the engine's job label.
func ownJobs(s *spec.Spec) ([]promScrapeJob, error) {
	var out []promScrapeJob
	for _, t := range s.Targets {
		name := OwnJob(s, t)
		if name == "" {
			continue
		}
		g, err := TargetGroupFor(s, t)
		if err != nil {
			return nil, err
		}
		g.Labels["job"] = JobFor(t.Engine)
		l, err := promLimitsOf(s.LimitsFor(t))
		if err != nil {
			return nil, fmt.Errorf("targets %s limits: %w", t.Name, err)
		}
		out = append(out, promScrapeJob{JobName: name, StaticConfigs: []promStatic{{Targets: g.Targets, Labels: g.Labels}}, promLimits: l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JobName < out[j].JobName })
	return out, nil
}

func marshalYAML(v any, header string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// remoteWrite returns the remote_write entries: the central stack for an agent, then the
// spec's stores; passwords and tokens go to files of their own.
func remoteWrite(b *Bundle, s *spec.Spec) []promRemoteWrite {
	var out []promRemoteWrite
	if f := s.Fleet; f != nil && f.Role == spec.RoleAgent {
		b.addSecret("prometheus/secrets/remote-write/central-password", []byte(f.CentralPassword.Value()))
		out = append(out, promRemoteWrite{Name: "central", URL: trimRight(f.Central, "/") + "/api/v1/write",
			BasicAuth: &promBasicAuth{Username: APIUser, PasswordFile: PromConfigDir + "/secrets/remote-write/central-password"}})
	}
	if lt := s.LongTerm; lt != nil && lt.VictoriaMetrics {
		out = append(out, promRemoteWrite{Name: "victoriametrics", URL: fmt.Sprintf("http://127.0.0.1:%d/api/v1/write", s.InternalPorts.VictoriaMetrics)})
	}
	for _, rw := range s.RemoteWrite {
		w := promRemoteWrite{Name: rw.Name, URL: rw.URL, Headers: rw.Headers}
		if rw.Username != "" {
			b.addSecret("prometheus/secrets/remote-write/"+rw.Name+"-password", []byte(rw.Password.Value()))
			w.BasicAuth = &promBasicAuth{Username: rw.Username, PasswordFile: PromConfigDir + "/secrets/remote-write/" + rw.Name + "-password"}
		}
		if rw.BearerToken != "" {
			b.addSecret("prometheus/secrets/remote-write/"+rw.Name+"-token", []byte(rw.BearerToken.Value()))
			w.Authorization = &promAuthz{CredentialsFile: PromConfigDir + "/secrets/remote-write/" + rw.Name + "-token"}
		}
		if rw.CAFile != "" || rw.InsecureSkipVerify {
			w.TLSConfig = &promTLS{InsecureSkipVerify: rw.InsecureSkipVerify}
			if rw.CAFile != "" {
				b.add("prometheus/secrets/remote-write/"+rw.Name+"-ca.pem", []byte(rw.CAData))
				w.TLSConfig.CAFile = PromConfigDir + "/secrets/remote-write/" + rw.Name + "-ca.pem"
			}
		}
		if q := rw.Queue; q != nil {
			w.QueueConfig = &promQueue{Capacity: q.Capacity, MaxShards: q.MaxShards, MaxSamplesPerSend: q.MaxSamplesPerSend}
			if q.BatchSendDeadline != 0 {
				w.QueueConfig.BatchSendDeadline = q.BatchSendDeadline.String()
			}
		}
		out = append(out, w)
	}
	return out
}
