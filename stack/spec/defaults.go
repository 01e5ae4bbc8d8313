package spec

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Default versions of the images llmmon runs. Never "latest": a pinned version is what was tested.
const (
	DefaultPrometheusImage   = "prom/prometheus:v3.15.0"
	DefaultAlertmanagerImage = "prom/alertmanager:v0.31.1"
	DefaultGrafanaImage      = "grafana/grafana:12.2.1"
	DefaultNodeExporterImage = "prom/node-exporter:v1.12.1"
	DefaultDCGMExporterImage = "nvcr.io/nvidia/k8s/dcgm-exporter:4.5.3-4.8.2-distroless"
	// The release Debian packages (1.79.5), which the fleet tests run.
	DefaultVictoriaMetricsImage = "victoriametrics/victoria-metrics:v1.79.5"
)

// Default ports on the host.
const (
	DefaultPrometheusPort   = 9090
	DefaultAlertmanagerPort = 9093
	DefaultGrafanaPort      = 3000
)

// DefaultThresholds are the alert thresholds used where the spec sets none.
var DefaultThresholds = Thresholds{
	CPUPercent:       85,
	MemoryPercent:    90,
	DiskPercent:      85,
	ErrorRatePercent: 5,
	LatencyP95:       Duration(30 * time.Second),
	TTFTP95:          Duration(2 * time.Second),
	TPOTP95:          Duration(200 * time.Millisecond),
	ThroughputMin:    1,
	QueueLength:      10,
	KVCachePercent:   95,
	GPUMemoryPercent: 90,
	GPUTempCelsius:   85,
	DownFor:          Duration(10 * time.Second),
}

// Merge returns t with every zero field taken from base.
func (t Thresholds) Merge(base Thresholds) Thresholds {
	pick := func(a, b float64) float64 {
		if a != 0 {
			return a
		}
		return b
	}
	pickD := func(a, b Duration) Duration {
		if a != 0 {
			return a
		}
		return b
	}
	return Thresholds{
		CPUPercent:       pick(t.CPUPercent, base.CPUPercent),
		MemoryPercent:    pick(t.MemoryPercent, base.MemoryPercent),
		DiskPercent:      pick(t.DiskPercent, base.DiskPercent),
		ErrorRatePercent: pick(t.ErrorRatePercent, base.ErrorRatePercent),
		LatencyP95:       pickD(t.LatencyP95, base.LatencyP95),
		TTFTP95:          pickD(t.TTFTP95, base.TTFTP95),
		TPOTP95:          pickD(t.TPOTP95, base.TPOTP95),
		ThroughputMin:    pick(t.ThroughputMin, base.ThroughputMin),
		QueueLength:      pick(t.QueueLength, base.QueueLength),
		KVCachePercent:   pick(t.KVCachePercent, base.KVCachePercent),
		GPUMemoryPercent: pick(t.GPUMemoryPercent, base.GPUMemoryPercent),
		GPUTempCelsius:   pick(t.GPUTempCelsius, base.GPUTempCelsius),
		DownFor:          pickD(t.DownFor, base.DownFor),
	}
}

// DefaultDataDir is where generated files live when the spec names no data_dir.
func DefaultDataDir(name string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".llmmon", name)
	}
	return filepath.Join(".llmmon", name)
}

// ApplyDefaults fills every unset field with its default. It is idempotent.
func (s *Spec) ApplyDefaults() {
	if s.Version == 0 {
		s.Version = 1
	}
	if s.Name == "" {
		s.Name = "llmmon"
	}
	if s.Bind == "" {
		s.Bind = "127.0.0.1"
	}
	if s.DataDir == "" {
		s.DataDir = DefaultDataDir(s.Name)
	} else if len(s.DataDir) > 1 && s.DataDir[:2] == "~/" {
		if home, err := os.UserHomeDir(); err == nil {
			s.DataDir = filepath.Join(home, s.DataDir[2:])
		}
	}
	if s.Language == "" {
		s.Language = "en"
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	if s.GPU == "" {
		s.GPU = "auto"
	}
	if s.Host == nil {
		t := true
		s.Host = &t
	}
	for i := range s.Targets {
		t := &s.Targets[i]
		switch {
		case t.Metrics != nil && (t.Engine == "" || t.Engine == EngineAuto):
			t.Engine = EngineCustom // an app whose metrics the spec maps
		case t.Engine == "":
			t.Engine = EngineAuto
		}
	}
	p := &s.Prometheus
	if p.Port == 0 {
		p.Port = DefaultPrometheusPort
	}
	if p.Retention == 0 {
		p.Retention = Duration(15 * 24 * time.Hour)
	}
	// 5 s scrape and evaluation, with down_for 10s and group_wait 5s, notify a dead service in
	// about 20 s (make bench-alerts); a host's few targets make this cheap.
	if p.ScrapeInterval == 0 {
		p.ScrapeInterval = Duration(5 * time.Second)
	}
	if p.EvaluationInterval == 0 {
		p.EvaluationInterval = Duration(5 * time.Second)
	}
	p.Limits = p.Limits.Merge(DefaultLimits)
	ip := &s.InternalPorts
	if ip.NodeExporter == 0 {
		ip.NodeExporter = 9100
	}
	if ip.DCGMExporter == 0 {
		ip.DCGMExporter = 9400
	}
	if ip.Relay == 0 {
		ip.Relay = 9095
	}
	if ip.GPUExporter == 0 {
		ip.GPUExporter = 9835
	}
	if ip.Remediation == 0 {
		ip.Remediation = 9097
	}
	if s.RemediationAgent == "" {
		s.RemediationAgent = RemediationAgentContainer
	}
	for i := range s.Targets {
		if r := s.Targets[i].Remediation; r != nil {
			r.applyDefaults()
		}
	}
	if s.Alertmanager.Port == 0 {
		s.Alertmanager.Port = DefaultAlertmanagerPort
	}
	g := &s.Grafana
	if g.Port == 0 {
		g.Port = DefaultGrafanaPort
	}
	if g.AdminUser == "" {
		g.AdminUser = "admin"
	}
	s.Alerts.Thresholds = s.Alerts.Thresholds.Merge(DefaultThresholds)
	if a := s.Alerts.Anomaly; a != nil {
		if a.Baseline == "" {
			a.Baseline = AnomalyRecent
		}
		if a.ChangePercent == 0 {
			a.ChangePercent = 50
		}
		if a.ZScore == 0 {
			a.ZScore = 3
		}
		if a.Window == 0 {
			a.Window = Duration(time.Hour)
		}
	}
	defaultFleet(s)
	if lt := s.LongTerm; lt != nil && lt.Retention == 0 {
		lt.Retention = Duration(365 * 24 * time.Hour)
	}
	if s.InternalPorts.VictoriaMetrics == 0 {
		s.InternalPorts.VictoriaMetrics = 8428
	}
	if rp := s.Report; rp != nil && rp.Period == 0 {
		if sc, err := ParseSchedule(rp.Schedule); err == nil {
			rp.Period = sc.DefaultPeriod()
		}
	}
	if w := s.Alerts.WorkingHours; w != nil && len(w.Days) == 0 {
		w.Days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	r := &s.Notify.Route
	if r.GroupWait == 0 {
		r.GroupWait = Duration(5 * time.Second)
	}
	if r.GroupInterval == 0 {
		r.GroupInterval = Duration(time.Minute)
	}
	if r.RepeatInterval == 0 {
		r.RepeatInterval = Duration(4 * time.Hour)
	}
	for i := range s.Notify.Receivers {
		if e := s.Notify.Receivers[i].Email; e != nil && e.TLS == "" {
			// Port 465 speaks TLS from the first byte (SMTPS); every other port STARTTLS.
			e.TLS = "starttls"
			if strings.HasSuffix(e.Smarthost, ":465") {
				e.TLS = "tls"
			}
		}
	}
	if r.Critical == nil {
		for _, rc := range s.Notify.Receivers {
			r.Critical = append(r.Critical, rc.Name)
		}
	}
	if r.Warning == nil {
		for _, rc := range s.Notify.Receivers {
			if rc.IsChat() {
				r.Warning = append(r.Warning, rc.Name)
			}
		}
		if r.Warning == nil {
			r.Warning = append(r.Warning, r.Critical...)
		}
	}
}

// Image returns the image to run for a component ("prometheus", "alertmanager", "grafana",
// "node-exporter", "dcgm-exporter"): the override when set, else the pinned default with the
// mirror prefix.
func (s *Spec) Image(component string) string {
	var override, def string
	switch component {
	case "prometheus":
		override, def = s.Images.Prometheus, DefaultPrometheusImage
	case "alertmanager":
		override, def = s.Images.Alertmanager, DefaultAlertmanagerImage
	case "grafana":
		override, def = s.Images.Grafana, DefaultGrafanaImage
	case "node-exporter":
		override, def = s.Images.NodeExporter, DefaultNodeExporterImage
	case "dcgm-exporter":
		override, def = s.Images.DCGMExporter, DefaultDCGMExporterImage
	case "victoriametrics":
		override, def = s.Images.VictoriaMetrics, DefaultVictoriaMetricsImage
	}
	if override != "" {
		return override
	}
	if s.Images.Mirror != "" {
		return trimSlash(s.Images.Mirror) + "/" + def
	}
	return def
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// LocalAddr is the address llmmon's components use to reach each other on this host: the bind
// address, or 127.0.0.1 when it binds every interface.
func (s *Spec) LocalAddr() string {
	if s.Bind == "" || s.Bind == "0.0.0.0" || s.Bind == "::" {
		return "127.0.0.1"
	}
	return s.Bind
}

// Seconds returns the duration in seconds, for PromQL comparisons.
func (d Duration) Seconds() float64 { return d.D().Seconds() }
