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
	Global        promGlobal      `yaml:"global"`
	Alerting      promAlerting    `yaml:"alerting"`
	RuleFiles     []string        `yaml:"rule_files"`
	ScrapeConfigs []promScrapeJob `yaml:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	ScrapeTimeout      string            `yaml:"scrape_timeout"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels"`
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

type promScrapeJob struct {
	JobName        string         `yaml:"job_name"`
	ScrapeInterval string         `yaml:"scrape_interval,omitempty"`
	MetricsPath    string         `yaml:"metrics_path,omitempty"`
	BasicAuth      *promBasicAuth `yaml:"basic_auth,omitempty"`
	StaticConfigs  []promStatic   `yaml:"static_configs,omitempty"`
	FileSDConfigs  []promFileSD   `yaml:"file_sd_configs,omitempty"`
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
		},
		Alerting:  promAlerting{Alertmanagers: []promAMConfig{{BasicAuth: auth, StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("%s:%d", local, s.Alertmanager.Port)}}}}}},
		RuleFiles: []string{PromConfigDir + "/rules/*.yml"},
	}
	self := []promScrapeJob{
		{JobName: "prometheus", BasicAuth: auth, StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("%s:%d", local, s.Prometheus.Port)}}}},
		{JobName: "alertmanager", BasicAuth: auth, StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("%s:%d", local, s.Alertmanager.Port)}}}},
	}
	if *s.Host {
		self = append(self, promScrapeJob{JobName: "node", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.NodeExporter)}}}})
	}
	if s.DCGMExporterAddress != "" {
		self = append(self, promScrapeJob{JobName: "dcgm", StaticConfigs: []promStatic{{Targets: []string{s.DCGMExporterAddress}}}})
	} else if o.GPU {
		self = append(self, promScrapeJob{JobName: "dcgm", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.DCGMExporter)}}}})
	}
	if o.Relay {
		self = append(self, promScrapeJob{JobName: "relay", StaticConfigs: []promStatic{{Targets: []string{fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.Relay)}}}})
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
		})
		data, err := TargetFile(groups[j])
		if err != nil {
			return err
		}
		b.add("prometheus/targets/"+j+".json", data)
	}
	data, err := marshalYAML(cfg, "# Generated by llmmon from your spec. Edit the spec, not this file: `llmmon up` rewrites it.\n")
	if err != nil {
		return err
	}
	b.add("prometheus/prometheus.yml", data)
	return nil
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
