package render

import (
	"fmt"
	"io/fs"

	"github.com/llmmon/llmmon/stack/spec"
)

// Assets are the embedded asset trees the renderer reads (tests may pass fstest.MapFS).
type Assets struct {
	Rules      fs.FS // records/*.yml, alerts/*.yml
	Templates  fs.FS // *.tmpl
	Dashboards fs.FS // *.yaml
}

// Options are facts the renderer cannot learn from the spec alone.
type Options struct {
	// GPU says whether dcgm-exporter runs (spec gpu: on, or auto with a GPU present).
	GPU bool
	// Relay says whether llmmon's notification relay runs (DingTalk or WeCom robots configured).
	// When false it is derived from the spec.
	Relay bool
	// RelayImage is the relay's image, built locally from llmmon's own binary.
	RelayImage string
}

// Container paths the generated files are copied to; they are fixed so that the files can refer
// to each other.
const (
	PromConfigDir   = "/etc/prometheus"
	AMConfigDir     = "/etc/alertmanager"
	GrafanaProvDir  = "/etc/grafana/provisioning"
	GrafanaDashDir  = "/etc/grafana/dashboards"
	GrafanaSecret   = "/etc/grafana/secrets/admin-password"
	DatasourceUID   = "llmmon-prometheus"
	DashboardFolder = "llmmon"
)

// Jobs are the Prometheus scrape jobs of model services, one per engine; "unknown" holds targets
// whose engine could not be recognised.
var Jobs = []string{spec.EngineVLLM, spec.EngineSGLang, spec.EngineTGI, spec.EngineLlamaCPP, spec.EngineTriton, spec.EngineLMDeploy, spec.EngineCustom, "unknown"}

// JobFor returns the scrape job of an engine.
func JobFor(engine string) string {
	for _, j := range Jobs {
		if j == engine {
			return j
		}
	}
	return "unknown"
}

// Render produces the whole bundle for a validated spec with defaults applied.
func Render(s *spec.Spec, a Assets, o Options) (*Bundle, error) {
	if !o.Relay {
		o.Relay = NeedsRelay(s)
	}
	b := newBundle()
	dash, err := renderDashboards(s, a.Dashboards)
	if err != nil {
		return nil, fmt.Errorf("render dashboards: %w", err)
	}
	for name, data := range dash.files {
		b.add("grafana/dashboards/"+DashboardFolder+"/"+name, data)
	}
	if err := renderPrometheus(b, s, o); err != nil {
		return nil, fmt.Errorf("render prometheus.yml: %w", err)
	}
	if err := renderRules(b, s, a.Rules, o, dash.panels); err != nil {
		return nil, fmt.Errorf("render rules: %w", err)
	}
	if err := renderAlertmanager(b, s, a.Templates, o); err != nil {
		return nil, fmt.Errorf("render alertmanager.yml: %w", err)
	}
	if err := renderGrafanaProvisioning(b, s); err != nil {
		return nil, fmt.Errorf("render grafana provisioning: %w", err)
	}
	if o.Relay {
		if err := renderRelay(b, s); err != nil {
			return nil, fmt.Errorf("render relay configuration: %w", err)
		}
	}
	return b, nil
}

// NeedsRelay reports whether any receiver needs llmmon's relay (DingTalk and WeCom robots).
func NeedsRelay(s *spec.Spec) bool {
	for _, r := range s.Notify.Receivers {
		if r.DingTalk != nil || r.WeCom != nil {
			return true
		}
	}
	return false
}

// GrafanaURL is the address users open Grafana at, used in alert links.
func GrafanaURL(s *spec.Spec) string {
	if s.Grafana.ExternalURL != "" {
		return trimRight(s.Grafana.ExternalURL, "/")
	}
	return fmt.Sprintf("http://%s:%d", hostForURL(s.LocalAddr()), s.Grafana.Port)
}

func hostForURL(h string) string {
	for _, c := range h {
		if c == ':' {
			return "[" + h + "]"
		}
	}
	return h
}

func trimRight(s, cut string) string {
	for len(s) > 0 && s[len(s)-1:] == cut {
		s = s[:len(s)-1]
	}
	return s
}
