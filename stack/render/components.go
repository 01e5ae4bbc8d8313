package render

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/llmmon/llmmon/stack/spec"
)

// Component is one container of the stack, described independently of Docker so that both the
// engine and the compose writer build on it.
type Component struct {
	Name  string // prometheus, alertmanager, grafana, node-exporter, dcgm-exporter, gpu-exporter, relay
	Image string
	Args  []string
	Env   []string // never secrets
	User  string   // uid:gid the process runs as
	// Data is the named volume (suffix of the volume name) and its mount path; it survives down,
	// up and image upgrades.
	DataVolume string
	DataPath   string
	// ConfigPrefix is the bundle directory copied to ConfigPath in the container, owned by User.
	ConfigPrefix string
	ConfigPath   string
	// HostMounts are read-only bind mounts of host paths (node-exporter reads /).
	HostMounts [][2]string
	// DockerSocket mounts the Docker Engine's socket, and the process joins the socket's group
	// (the remediation agent restarts the containers the spec names).
	DockerSocket bool
	PidHost      bool
	GPUs         bool
	CapAdd       []string
	// Addr is host:port the component listens on (all components use host networking).
	Addr string
	// Health is the readiness path; Ready are the deeper facts checked after it answers.
	Health string
	Ready  []ReadyCheck
	// Reload are the paths POSTed, in order, to make the component re-read its files; with
	// none, a change of its files recreates it.
	Reload []string
	// Auth names the credentials its HTTP API needs for Ready and Reload.
	Auth Auth
	// AdminSecret is the path, below ConfigPath, of the file that holds the Grafana admin
	// password; Imports says it gets the dashboards of `llmmon import-dashboard`.
	AdminSecret string
	Imports     bool
	// PortField is the spec field that sets Addr's port, for messages.
	PortField string
	// BuiltLocally says llmmon builds Image itself (the relay) instead of pulling it.
	BuiltLocally bool
	// StartFirst says its readiness takes longest once it runs, so up starts it before the
	// others (Prometheus waits on its own service discovery, about 5 s).
	StartFirst bool
	// Published says whether users browse to it (for the summary).
	Published bool
}

// Auth names the credentials a component's HTTP API needs.
type Auth string

// The credentials components need.
const (
	AuthNone         Auth = ""
	AuthStack        Auth = "stack"         // user llmmon and the stack's password, basic auth
	AuthToken        Auth = "token"         // the relay's bearer token
	AuthGrafanaAdmin Auth = "grafana-admin" // the admin user and password, basic auth
)

// ReadyCheck is one fact that must hold before a component counts as healthy: a GET of Path
// answers 200 and, when NonEmpty is set, the JSON value at that dotted path is there, not null
// and, for an array, not empty.
type ReadyCheck struct {
	Path     string
	NonEmpty string
	// Missing says, for the user, what is not there yet ("has not loaded its rules yet").
	Missing string
}

// AllComponents names every component llmmon can run, whether a spec wants it or not: a
// container labelled with another name is not llmmon's.
var AllComponents = []string{"node-exporter", "gpu-exporter", "dcgm-exporter", "victoriametrics", "prometheus", "alertmanager", "grafana", "relay", "remediation"}

// Components returns the stack's containers for a spec, in start order.
func Components(s *spec.Spec, o Options) []Component {
	bind := s.Bind
	local := hostForURL(s.LocalAddr())
	var out []Component
	if *s.Host {
		out = append(out, Component{
			Name:       "node-exporter",
			Image:      s.Image("node-exporter"),
			User:       "65534:65534",
			Args:       []string{"--path.rootfs=/host", fmt.Sprintf("--web.listen-address=127.0.0.1:%d", s.InternalPorts.NodeExporter), "--no-collector.systemd", "--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run|var/lib/docker/.+|var/lib/kubelet/.+)($|/)"},
			HostMounts: [][2]string{{"/", "/host"}},
			PidHost:    true,
			Addr:       fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.NodeExporter),
			Health:     "/metrics",
			PortField:  "internal_ports.node_exporter",
		})
	}
	if o.GPUExporter && s.NvidiaSmiExporterAddress == "" {
		// nvidia-smi and its library come from Docker's NVIDIA runtime (the utility
		// capability); the image holds llmmon and the glibc nvidia-smi needs.
		out = append(out, Component{
			Name:         "gpu-exporter",
			Image:        o.RelayImage,
			User:         "65534:65534",
			Args:         []string{"gpu-exporter", fmt.Sprintf("--listen=127.0.0.1:%d", s.InternalPorts.GPUExporter), "--nvidia-smi=/usr/bin/nvidia-smi"},
			Env:          []string{"NVIDIA_DRIVER_CAPABILITIES=utility"},
			GPUs:         true,
			Addr:         fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.GPUExporter),
			Health:       "/metrics",
			PortField:    "internal_ports.gpu_exporter",
			BuiltLocally: true,
		})
	}
	if o.GPU && s.DCGMExporterAddress == "" {
		out = append(out, Component{
			Name:      "dcgm-exporter",
			Image:     s.Image("dcgm-exporter"),
			Args:      []string{"-a", fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.DCGMExporter), "--collect-interval=15000"},
			Env:       []string{"GOMEMLIMIT=400MiB"},
			GPUs:      true,
			CapAdd:    []string{"SYS_ADMIN"},
			Addr:      fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.DCGMExporter),
			Health:    "/health",
			PortField: "internal_ports.dcgm_exporter",
		})
	}
	if lt := s.LongTerm; lt != nil && lt.VictoriaMetrics {
		out = append(out, Component{
			// As its upstream image runs it (root: its /storage volume is created root's).
			Name:  "victoriametrics",
			Image: s.Image("victoriametrics"),
			Args: []string{fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", s.InternalPorts.VictoriaMetrics), "-storageDataPath=/storage",
				fmt.Sprintf("-retentionPeriod=%dd", int(lt.Retention.D().Hours()/24)),
				// Queries see the newest samples, as from Prometheus (the default hides 30 s).
				"-search.latencyOffset=0s"},
			DataVolume: "victoriametrics-data",
			DataPath:   "/storage",
			Addr:       fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.VictoriaMetrics),
			Health:     "/health",
			PortField:  "internal_ports.victoriametrics",
		})
	}
	promArgs := []string{
		"--config.file=" + PromConfigDir + "/prometheus.yml",
		"--storage.tsdb.path=/prometheus",
		"--storage.tsdb.retention.time=" + s.Prometheus.Retention.String(),
		fmt.Sprintf("--web.listen-address=%s:%d", hostForURL(bind), s.Prometheus.Port),
		fmt.Sprintf("--web.external-url=http://%s:%d", local, s.Prometheus.Port),
		"--web.enable-lifecycle", // reload and quit need the credentials of web.yml
		"--web.config.file=" + PromWebConfig,
	}
	if s.Prometheus.RetentionSize != "" {
		promArgs = append(promArgs, "--storage.tsdb.retention.size="+s.Prometheus.RetentionSize)
	}
	promReady := []ReadyCheck{
		{Path: "/api/v1/rules", NonEmpty: "data.groups", Missing: "has not loaded its rules yet"},
		{Path: "/api/v1/alertmanagers", NonEmpty: "data.activeAlertmanagers", Missing: "is not connected to alertmanager yet"},
		{Path: "/api/v1/targets?state=active", NonEmpty: "data.activeTargets", Missing: "sees no targets yet"},
	}
	switch s.Role() {
	case spec.RoleAgent:
		// Agent mode: a write-ahead log that is sent to the central stack, no local storage,
		// rules or queries.
		promArgs = slices.DeleteFunc(promArgs, func(a string) bool { return strings.HasPrefix(a, "--storage.tsdb.") })
		promArgs = append(promArgs, "--agent", "--storage.agent.path=/prometheus")
		promReady = promReady[2:]
	case spec.RoleCentral:
		promArgs = append(promArgs, "--web.enable-remote-write-receiver")
	}
	out = append(out, Component{
		Name:         "prometheus",
		Image:        s.Image("prometheus"),
		User:         "65534:65534",
		Args:         promArgs,
		DataVolume:   "prometheus-data",
		DataPath:     "/prometheus",
		ConfigPrefix: "prometheus/",
		ConfigPath:   PromConfigDir,
		Addr:         fmt.Sprintf("%s:%d", local, s.Prometheus.Port),
		Health:       "/-/ready",
		Ready:        promReady,
		Reload:       []string{"/-/reload"},
		PortField:    "prometheus.port",
		Auth:         AuthStack,
		StartFirst:   true,
		Published:    true,
	})
	out = append(out, Component{
		Name:  "alertmanager",
		Image: s.Image("alertmanager"),
		User:  "65534:65534",
		Args: []string{
			"--config.file=" + AMConfigDir + "/alertmanager.yml",
			"--storage.path=/alertmanager",
			fmt.Sprintf("--web.listen-address=%s:%d", hostForURL(bind), s.Alertmanager.Port),
			"--web.external-url=" + AlertmanagerURL(s),
			"--web.route-prefix=/", // an external URL with a path must not move the API

			"--cluster.listen-address=",
			"--web.config.file=" + AMWebConfig,
			// Per-receiver notification counters let `llmmon alert test` tell which receiver failed.
			"--enable-feature=receiver-name-in-metrics",
		},
		DataVolume:   "alertmanager-data",
		DataPath:     "/alertmanager",
		ConfigPrefix: "alertmanager/",
		ConfigPath:   AMConfigDir,
		Addr:         fmt.Sprintf("%s:%d", local, s.Alertmanager.Port),
		Health:       "/-/ready",
		Ready:        []ReadyCheck{{Path: "/api/v2/status", NonEmpty: "config", Missing: "has not loaded its configuration"}},
		Reload:       []string{"/-/reload"},
		PortField:    "alertmanager.port",
		Auth:         AuthStack,
		Published:    true,
	})
	out = append(out, Component{
		Name:  "grafana",
		Image: s.Image("grafana"),
		User:  "472:0",
		Env: []string{
			"GF_SERVER_HTTP_ADDR=" + bind,
			fmt.Sprintf("GF_SERVER_HTTP_PORT=%d", s.Grafana.Port),
			"GF_SERVER_ROOT_URL=" + GrafanaURL(s),
			"GF_SECURITY_ADMIN_USER=" + s.Grafana.AdminUser,
			"GF_SECURITY_ADMIN_PASSWORD__FILE=" + GrafanaSecret,
			"GF_PATHS_PROVISIONING=" + GrafanaProvDir,
			"GF_PATHS_DATA=/var/lib/grafana",
			"GF_USERS_ALLOW_SIGN_UP=false",
			"GF_AUTH_ANONYMOUS_ENABLED=false",
			"GF_ANALYTICS_REPORTING_ENABLED=false",
			"GF_ANALYTICS_CHECK_FOR_UPDATES=false",
			"GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH=" + GrafanaDashDir + "/" + DashboardFolder + "/llmmon-overview.json",
		},
		DataVolume:   "grafana-data",
		DataPath:     "/var/lib/grafana",
		ConfigPrefix: "grafana/",
		ConfigPath:   "/etc/grafana",
		Addr:         fmt.Sprintf("%s:%d", local, s.Grafana.Port),
		Health:       "/api/health",
		Ready:        []ReadyCheck{{Path: "/api/datasources/uid/" + DatasourceUID, Missing: "does not have llmmon's datasource yet"}},
		// Grafana's admin API re-reads the provisioning files: datasources, then dashboards.
		Reload:      []string{"/api/admin/provisioning/datasources/reload", "/api/admin/provisioning/dashboards/reload"},
		Auth:        AuthGrafanaAdmin,
		AdminSecret: "secrets/admin-password",
		Imports:     true,
		PortField:   "grafana.port",
		Published:   true,
	})
	if o.Relay || NeedsRelay(s) {
		out = append(out, Component{
			Name:         "relay",
			Image:        o.RelayImage,
			User:         "65534:65534",
			Args:         []string{"relay", "--config", RelayConfigFile, fmt.Sprintf("--listen=127.0.0.1:%d", s.InternalPorts.Relay)},
			DataVolume:   "relay-data",
			DataPath:     RelayDataDir,
			ConfigPrefix: "relay/",
			ConfigPath:   RelayConfigDir,
			Addr:         fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.Relay),
			Health:       "/-/ready",
			Reload:       []string{"/-/reload"},
			PortField:    "internal_ports.relay",
			Auth:         AuthToken,
			BuiltLocally: true,
		})
	}
	if s.RemediationContainer() {
		out = append(out, Component{
			Name:         "remediation",
			Image:        o.RelayImage,
			User:         "65534:65534",
			Args:         []string{"remediate", "--config", RemediationConfigFile},
			DataVolume:   "remediation-data",
			DataPath:     RemediationDataDir,
			ConfigPrefix: "remediation/",
			ConfigPath:   RemediationConfigDir,
			DockerSocket: true,
			Addr:         fmt.Sprintf("127.0.0.1:%d", s.InternalPorts.Remediation),
			Health:       "/-/ready",
			Auth:         AuthToken,
			PortField:    "internal_ports.remediation",
			BuiltLocally: true,
		})
	}
	if s.Role() == spec.RoleAgent {
		// An agent runs the exporters and Prometheus; the central stack does the rest.
		out = slices.DeleteFunc(out, func(c Component) bool {
			return c.Name != "prometheus" && c.Name != "node-exporter" && c.Name != "gpu-exporter" && c.Name != "dcgm-exporter"
		})
	}
	return out
}

// ComponentNames returns the names of the components, sorted.
func ComponentNames(cs []Component) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	sort.Strings(n)
	return n
}

// AlertmanagerURL is the address users open Alertmanager at, used in silence links.
func AlertmanagerURL(s *spec.Spec) string {
	if s.Alertmanager.ExternalURL != "" {
		return trimRight(s.Alertmanager.ExternalURL, "/")
	}
	return fmt.Sprintf("http://%s:%d", hostForURL(s.LocalAddr()), s.Alertmanager.Port)
}
