// Package spec defines llmmon's spec file (v1): its types, strict loading with source positions,
// defaults, validation that reports every error at once, and the zero-config default.
package spec

import "time"

// Engines llmmon knows, by the name used in the spec.
const (
	EngineAuto     = "auto"
	EngineVLLM     = "vllm"
	EngineSGLang   = "sglang"
	EngineTGI      = "tgi"
	EngineLlamaCPP = "llamacpp"
	EngineTriton   = "triton"
	EngineLMDeploy = "lmdeploy"
	EngineCustom   = "custom"
	EngineOllama   = "ollama"
)

// Engines lists the engine names a target may declare, in documentation order.
var Engines = []string{EngineVLLM, EngineSGLang, EngineTGI, EngineLlamaCPP, EngineTriton, EngineLMDeploy, EngineCustom, EngineAuto}

// Spec is the whole llmmon spec. Field comments are user documentation: `llmmon schema` turns them
// into the JSON Schema's descriptions.
type Spec struct {
	// Spec format version; 1 is the only one.
	Version int `yaml:"version,omitempty" json:"version,omitempty"`
	// Stack name: prefixes every container, network and volume llmmon creates.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Host address the web UIs are published on. 127.0.0.1 keeps them local; 0.0.0.0 opens them to the network.
	Bind string `yaml:"bind,omitempty" json:"bind,omitempty"`
	// Directory for the generated configuration and secrets (default ~/.llmmon/NAME).
	DataDir string `yaml:"data_dir,omitempty" json:"data_dir,omitempty"`
	// Language of alert texts and notifications: en or zh.
	Language string `yaml:"language,omitempty" json:"language,omitempty"`
	// IANA time zone for notification times and working hours, e.g. Asia/Shanghai (default UTC).
	Timezone string `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	// GPU monitoring: auto (with an NVIDIA GPU and Docker's NVIDIA runtime: dcgm-exporter, or
	// llmmon's nvidia-smi exporter for GPUs dcgm-exporter does not support), on (dcgm-exporter), off.
	GPU string `yaml:"gpu,omitempty" json:"gpu,omitempty"`
	// Scrape a dcgm-exporter that already runs (host:port, e.g. the NVIDIA GPU Operator's)
	// instead of starting one; GPU rules and dashboards are then on.
	DCGMExporterAddress string `yaml:"dcgm_exporter_address,omitempty" json:"dcgm_exporter_address,omitempty"`
	// Scrape an nvidia-smi based GPU exporter (host:port): `llmmon gpu-exporter` or
	// utkuozdemir/nvidia_gpu_exporter, for GPUs dcgm-exporter does not support (GeForce, WSL);
	// GPU rules and dashboards are then on, and read it.
	NvidiaSmiExporterAddress string `yaml:"nvidia_smi_exporter_address,omitempty" json:"nvidia_smi_exporter_address,omitempty"`
	// Monitor this host with node-exporter (default true).
	Host *bool `yaml:"host,omitempty" json:"host,omitempty"`
	// Model services to scrape.
	Targets []Target `yaml:"targets,omitempty" json:"targets,omitempty"`
	// Prometheus settings.
	Prometheus Prometheus `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Alertmanager settings.
	Alertmanager Alertmanager `yaml:"alertmanager,omitempty" json:"alertmanager,omitempty"`
	// Grafana settings.
	Grafana Grafana `yaml:"grafana,omitempty" json:"grafana,omitempty"`
	// Alert thresholds and switches.
	Alerts Alerts `yaml:"alerts,omitempty" json:"alerts,omitempty"`
	// Where the remediation agent runs: container (default; it restarts containers through the
	// Docker socket) or host (`llmmon remediate -f SPEC` run by you, e.g. as a systemd unit;
	// needed for command actions).
	RemediationAgent string `yaml:"remediation_agent,omitempty" json:"remediation_agent,omitempty"`
	// Service level objectives of every model service (a target's own slo overrides them):
	// availability and latency, with multi-window burn-rate alerts and the error budget left.
	// Without it, only targets with an slo of their own have one.
	SLO *SLO `yaml:"slo,omitempty" json:"slo,omitempty"`
	// Who gets notified, and how alerts are routed to them.
	Notify Notify `yaml:"notify,omitempty" json:"notify,omitempty"`
	// The service report, sent on a schedule to email and chat receivers.
	Report *Report `yaml:"report,omitempty" json:"report,omitempty"`
	// A fleet of GPU hosts: this stack's role in it (agent or central) and its host name.
	Fleet *Fleet `yaml:"fleet,omitempty" json:"fleet,omitempty"`
	// Long-term stores Prometheus sends every sample to (VictoriaMetrics, Thanos Receive,
	// Mimir, a Prometheus with the remote-write receiver).
	RemoteWrite []RemoteWrite `yaml:"remote_write,omitempty" json:"remote_write,omitempty"`
	// A long-term store run by the stack itself.
	LongTerm *LongTerm `yaml:"long_term,omitempty" json:"long_term,omitempty"`
	// Container images: pinned versions, a registry mirror, per-component overrides.
	Images Images `yaml:"images,omitempty" json:"images,omitempty"`
	// Ports of the components that listen on 127.0.0.1 only (llmmon's containers use host networking).
	InternalPorts InternalPorts `yaml:"internal_ports,omitempty" json:"internal_ports,omitempty"`
}

// InternalPorts are host ports on 127.0.0.1 used by components that users do not browse to.
type InternalPorts struct {
	// node-exporter (default 9100).
	NodeExporter int `yaml:"node_exporter,omitempty" json:"node_exporter,omitempty"`
	// dcgm-exporter (default 9400).
	DCGMExporter int `yaml:"dcgm_exporter,omitempty" json:"dcgm_exporter,omitempty"`
	// llmmon's notification relay for DingTalk and WeCom (default 9095).
	Relay int `yaml:"relay,omitempty" json:"relay,omitempty"`
	// VictoriaMetrics, with long_term.victoriametrics (default 8428).
	VictoriaMetrics int `yaml:"victoriametrics,omitempty" json:"victoriametrics,omitempty"`
	// llmmon's nvidia-smi GPU exporter, for GPUs dcgm-exporter does not support (default 9835).
	GPUExporter int `yaml:"gpu_exporter,omitempty" json:"gpu_exporter,omitempty"`
	// llmmon's remediation agent, Alertmanager's webhook receiver for auto-recovery (default 9097).
	Remediation int `yaml:"remediation,omitempty" json:"remediation,omitempty"`
}

// Target is one model service to scrape.
type Target struct {
	// Unique name of the service, used as the `target` label (letters, digits, - and _).
	Name string `yaml:"name" json:"name"`
	// Inference engine: vllm, sglang, tgi, llamacpp, triton, lmdeploy, custom or auto (recognise it from the metric names).
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty"`
	// Where the service listens: http(s)://host:port[/path] or host:port. 127.0.0.1 means this host.
	URL string `yaml:"url" json:"url"`
	// Path of the metrics endpoint (default /metrics, or the URL's path).
	MetricsPath string `yaml:"metrics_path,omitempty" json:"metrics_path,omitempty"`
	// Extra labels put on every series of this target.
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Scrape interval for this target (default prometheus.scrape_interval).
	ScrapeInterval Duration `yaml:"scrape_interval,omitempty" json:"scrape_interval,omitempty"`
	// Scrape limits for this target; fields not set here come from prometheus.limits. A target
	// with limits of its own is scraped by a scrape job of its own.
	Limits *Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
	// What an app's own metrics mean (engine custom): each role names a metric of the app, so
	// that the dashboards and alerts read it. Without it, a custom app is read by the common
	// tutorial names (model_requests_total, ...); with it, roles left out have no data, and
	// `llmmon doctor` names them.
	Metrics *Metrics `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	// Service level objectives of this service; fields left out come from spec.slo, then the
	// defaults (availability 99.5 %, TTFT under 2.5s for 99 %, over 28d).
	SLO *SLO `yaml:"slo,omitempty" json:"slo,omitempty"`
	// Auto-recovery: restart the service when one of its alerts fires, within limits.
	Remediation *Remediation `yaml:"remediation,omitempty" json:"remediation,omitempty"`
	// How `llmmon render --kubernetes` finds this service in a cluster (default: a Service
	// labelled app.kubernetes.io/name: NAME, its port named http).
	Kubernetes *KubeTarget `yaml:"kubernetes,omitempty" json:"kubernetes,omitempty"`
}

// KubeTarget says where a model service runs in Kubernetes.
type KubeTarget struct {
	// Namespace of its Service or Pods (default: the namespace rendered into).
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Labels its Service (or Pods) carry (default app.kubernetes.io/name: NAME).
	Selector map[string]string `yaml:"selector,omitempty" json:"selector,omitempty"`
	// Name of the port that serves the metrics (default http).
	Port string `yaml:"port,omitempty" json:"port,omitempty"`
	// Scrape its Pods directly (a PodMonitor) instead of its Service (a ServiceMonitor).
	Pods bool `yaml:"pods,omitempty" json:"pods,omitempty"`
}

// Remediation restarts a model service on an alert: its Docker container (named here), or a
// command run by the remediation agent on the host. At most max_actions per window, a cool-down
// between two, a health re-check after each; when the limit is hit or the service stays
// unhealthy, LLMAutoRecoveryFailed (critical) asks for a person.
type Remediation struct {
	// Alerts that trigger an action (default [LLMServiceDown]).
	Alerts []string `yaml:"alerts,omitempty" json:"alerts,omitempty"`
	// The Docker container to restart, by its exact name. llmmon touches no other container.
	Container string `yaml:"container,omitempty" json:"container,omitempty"`
	// A command to run instead, as a list (no shell), e.g. [systemctl, restart, vllm]; it needs
	// remediation_agent: host.
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	// Most actions per window (default 3).
	MaxActions int `yaml:"max_actions,omitempty" json:"max_actions,omitempty"`
	// The window max_actions counts over (default 1h).
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// Least time between two actions (default 5m).
	Cooldown Duration `yaml:"cooldown,omitempty" json:"cooldown,omitempty"`
	// How long the service has to answer again after an action (default 2m).
	Recheck Duration `yaml:"recheck,omitempty" json:"recheck,omitempty"`
	// on (default) acts; dry-run only announces what it would do.
	Mode string `yaml:"mode,omitempty" json:"mode,omitempty"`
}

// Metrics maps an app's metrics onto llmmon's roles.
type Metrics struct {
	// Requests served: a counter, or a histogram or summary whose _count counts them.
	Requests *MetricRef `yaml:"requests,omitempty" json:"requests,omitempty"`
	// Failed requests: a counter (or histogram/summary), usually with match: {status: "5..|error"}.
	Errors *MetricRef `yaml:"errors,omitempty" json:"errors,omitempty"`
	// Whole-request latency: a histogram, a summary (quantiles from its quantile label, the mean from _sum/_count) or a gauge.
	Latency *MetricRef `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Time to first token: a histogram, summary or gauge.
	TTFT *MetricRef `yaml:"ttft,omitempty" json:"ttft,omitempty"`
	// Time per output token: a histogram, summary or gauge.
	TPOT *MetricRef `yaml:"tpot,omitempty" json:"tpot,omitempty"`
	// Prompt tokens: a counter, a histogram/summary of tokens per request, or a gauge of tokens per second.
	PromptTokens *MetricRef `yaml:"prompt_tokens,omitempty" json:"prompt_tokens,omitempty"`
	// Generated tokens: a counter, a histogram/summary of tokens per request, or a gauge of tokens per second.
	GeneratedTokens *MetricRef `yaml:"generated_tokens,omitempty" json:"generated_tokens,omitempty"`
	// Requests waiting: a gauge.
	Queue *MetricRef `yaml:"queue,omitempty" json:"queue,omitempty"`
	// Requests being processed: a gauge.
	Running *MetricRef `yaml:"running,omitempty" json:"running,omitempty"`
	// KV-cache usage: a gauge (unit ratio or percent).
	KVCache *MetricRef `yaml:"kv_cache,omitempty" json:"kv_cache,omitempty"`
	// GPU memory the app uses: a gauge (unit bytes, KB, MB, GB, KiB, MiB or GiB).
	GPUMemory *MetricRef `yaml:"gpu_memory,omitempty" json:"gpu_memory,omitempty"`
	// GPU utilisation as the app reports it: a gauge (unit percent or ratio).
	GPUUtilization *MetricRef `yaml:"gpu_utilization,omitempty" json:"gpu_utilization,omitempty"`
	// Process CPU: a counter of CPU seconds, or a gauge in percent (default process_cpu_seconds_total).
	ProcessCPU *MetricRef `yaml:"process_cpu,omitempty" json:"process_cpu,omitempty"`
	// Process memory: a gauge (default process_resident_memory_bytes).
	ProcessMemory *MetricRef `yaml:"process_memory,omitempty" json:"process_memory,omitempty"`
}

// MetricRef is one metric of an app in a role.
type MetricRef struct {
	// The metric's name as the app exposes it; for a histogram or summary the name without _bucket, _sum or _count.
	Metric string `yaml:"metric" json:"metric"`
	// counter, gauge, histogram or summary (default: counter for names ending in _total, else required).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Only the series whose labels match these regular expressions, e.g. {status: "5..|error"}.
	Match map[string]string `yaml:"match,omitempty" json:"match,omitempty"`
	// Unit of the values: seconds, milliseconds or microseconds for latencies; bytes, KB, MB, GB,
	// KiB, MiB or GiB for memory; percent or ratio for utilisation and KV cache.
	Unit string `yaml:"unit,omitempty" json:"unit,omitempty"`
}

// Limits bound what one scrape may bring into Prometheus. A scrape over any limit fails as a
// whole: the target shows as down with the reason, and ScrapeLimitExceeded alerts. Zero or
// unset fields take the defaults.
type Limits struct {
	// Largest uncompressed /metrics response, e.g. 16MB (1MB = 1024KB, as Prometheus counts;
	// default 16MB). Prometheus stops reading there, so a huge response cannot exhaust its memory.
	BodySize string `yaml:"body_size,omitempty" json:"body_size,omitempty"`
	// Most samples one scrape may return (default 50000; a vLLM server with one model returns about 260).
	Samples int `yaml:"samples,omitempty" json:"samples,omitempty"`
	// Most labels on one series, the target's own labels (job, instance, target, engine, labels) included (default 64).
	Labels int `yaml:"labels,omitempty" json:"labels,omitempty"`
	// Longest label name, in bytes (default 256).
	LabelNameLength int `yaml:"label_name_length,omitempty" json:"label_name_length,omitempty"`
	// Longest label value, in bytes (default 4096).
	LabelValueLength int `yaml:"label_value_length,omitempty" json:"label_value_length,omitempty"`
}

// Prometheus settings.
type Prometheus struct {
	// Host port of the Prometheus UI and API.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// How long samples are kept (default 15d).
	Retention Duration `yaml:"retention,omitempty" json:"retention,omitempty"`
	// Largest size of the samples kept, e.g. 50GB (default: no limit).
	RetentionSize string `yaml:"retention_size,omitempty" json:"retention_size,omitempty"`
	// Default scrape interval (default 5s).
	ScrapeInterval Duration `yaml:"scrape_interval,omitempty" json:"scrape_interval,omitempty"`
	// Rule evaluation interval (default 5s).
	EvaluationInterval Duration `yaml:"evaluation_interval,omitempty" json:"evaluation_interval,omitempty"`
	// Scrape limits of every scrape job (model services and the stack's own components);
	// targets[].limits overrides them per target.
	Limits Limits `yaml:"limits,omitempty" json:"limits,omitempty"`
}

// Alertmanager settings.
type Alertmanager struct {
	// Host port of the Alertmanager UI and API.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// URL users reach Alertmanager at, used in the silence links of notifications
	// (default http://BIND:PORT).
	ExternalURL string `yaml:"external_url,omitempty" json:"external_url,omitempty"`
}

// Grafana settings.
type Grafana struct {
	// Host port of Grafana.
	Port int `yaml:"port,omitempty" json:"port,omitempty"`
	// Admin user name (default admin).
	AdminUser string `yaml:"admin_user,omitempty" json:"admin_user,omitempty"`
	// Admin password; use ${VAR}. When neither this nor admin_password_file is set, llmmon
	// generates one and stores it in DATA_DIR/secrets/grafana-admin-password (mode 0600).
	AdminPassword Secret `yaml:"admin_password,omitempty" json:"admin_password,omitempty"`
	// File holding the admin password.
	AdminPasswordFile string `yaml:"admin_password_file,omitempty" json:"admin_password_file,omitempty"`
	// URL users reach Grafana at, used in alert links (default http://BIND:PORT).
	ExternalURL string `yaml:"external_url,omitempty" json:"external_url,omitempty"`
}

// Alerts holds thresholds and switches of the alert rules.
type Alerts struct {
	// Thresholds for every target; see the README for each one's meaning.
	Thresholds Thresholds `yaml:"thresholds,omitempty" json:"thresholds,omitempty"`
	// Per-target or per-engine threshold overrides.
	Overrides []Override `yaml:"overrides,omitempty" json:"overrides,omitempty"`
	// Alert names to leave out, e.g. HostHighCPU.
	Disable []string `yaml:"disable,omitempty" json:"disable,omitempty"`
	// Stricter thresholds in working hours, looser at night (in spec.timezone).
	WorkingHours *WorkingHours `yaml:"working_hours,omitempty" json:"working_hours,omitempty"`
	// Anomaly alerts: latency or throughput far from its own recent history (z-score).
	Anomaly *Anomaly `yaml:"anomaly,omitempty" json:"anomaly,omitempty"`
}

// Thresholds of the alert rules. Zero values mean "use the default".
type Thresholds struct {
	// Host CPU busy percent (default 85).
	CPUPercent float64 `yaml:"cpu_percent,omitempty" json:"cpu_percent,omitempty"`
	// Host memory used percent (default 90).
	MemoryPercent float64 `yaml:"memory_percent,omitempty" json:"memory_percent,omitempty"`
	// Host disk used percent (default 85).
	DiskPercent float64 `yaml:"disk_percent,omitempty" json:"disk_percent,omitempty"`
	// Failed requests as a percent of all requests (default 5).
	ErrorRatePercent float64 `yaml:"error_rate_percent,omitempty" json:"error_rate_percent,omitempty"`
	// 95th percentile end-to-end request latency (default 30s).
	LatencyP95 Duration `yaml:"latency_p95,omitempty" json:"latency_p95,omitempty"`
	// 95th percentile time to first token (default 2s).
	TTFTP95 Duration `yaml:"ttft_p95,omitempty" json:"ttft_p95,omitempty"`
	// 95th percentile time per output token (default 200ms).
	TPOTP95 Duration `yaml:"tpot_p95,omitempty" json:"tpot_p95,omitempty"`
	// Lowest generated tokens per second while requests are being served (default 1).
	ThroughputMin float64 `yaml:"throughput_min,omitempty" json:"throughput_min,omitempty"`
	// Requests waiting in the engine's queue (default 10).
	QueueLength float64 `yaml:"queue_length,omitempty" json:"queue_length,omitempty"`
	// KV-cache usage percent (default 95).
	KVCachePercent float64 `yaml:"kv_cache_percent,omitempty" json:"kv_cache_percent,omitempty"`
	// GPU memory used percent, for engines that do not pre-allocate it (default 90).
	GPUMemoryPercent float64 `yaml:"gpu_memory_percent,omitempty" json:"gpu_memory_percent,omitempty"`
	// GPU temperature in degrees Celsius (default 85).
	GPUTempCelsius float64 `yaml:"gpu_temp_celsius,omitempty" json:"gpu_temp_celsius,omitempty"`
	// How long a service must be unreachable before ServiceDown fires (default 10s).
	DownFor Duration `yaml:"down_for,omitempty" json:"down_for,omitempty"`
}

// Override replaces some thresholds for one target or for every target of an engine.
type Override struct {
	// Target name the override applies to.
	Target string `yaml:"target,omitempty" json:"target,omitempty"`
	// Engine the override applies to.
	Engine string `yaml:"engine,omitempty" json:"engine,omitempty"`
	// Thresholds to use instead.
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
}

// WorkingHours selects stricter thresholds during working hours.
type WorkingHours struct {
	// Start of working hours, HH:MM.
	Start string `yaml:"start" json:"start"`
	// End of working hours, HH:MM.
	End string `yaml:"end" json:"end"`
	// Working days, e.g. [mon, tue, wed, thu, fri] (default Monday to Friday).
	Days []string `yaml:"days,omitempty" json:"days,omitempty"`
	// Thresholds in working hours; the main thresholds apply outside them.
	Thresholds Thresholds `yaml:"thresholds" json:"thresholds"`
}

// Anomaly configures z-score alerts.
type Anomaly struct {
	// Turn anomaly alerts on.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// Z-score above which a value is an anomaly (default 3).
	ZScore float64 `yaml:"z_score,omitempty" json:"z_score,omitempty"`
	// History window the z-score is computed over (default 1h).
	Window Duration `yaml:"window,omitempty" json:"window,omitempty"`
	// What a value is compared with: recent (its own last window, as a z-score; default) or
	// last_week (the same hour a week earlier, for traffic with a daily and weekly rhythm).
	Baseline string `yaml:"baseline,omitempty" json:"baseline,omitempty"`
	// With baseline last_week: how far from last week is an anomaly, in percent: p95 latency
	// that much higher, or throughput that much lower (default 50).
	ChangePercent float64 `yaml:"change_percent,omitempty" json:"change_percent,omitempty"`
}

// Anomaly baselines.
const (
	AnomalyRecent   = "recent"
	AnomalyLastWeek = "last_week"
)

// Report delivers the service report (`llmmon report`) on a schedule, by email (HTML with the
// plots) and to the chat robots (the summary with a link to Grafana).
type Report struct {
	// When it is sent, in timezone: "mon 09:00" (every week on that day), "daily 09:00", or
	// "monthly 09:00" (the first of each month).
	Schedule string `yaml:"schedule" json:"schedule"`
	// What it covers, up to the time it is sent (default 7d for a weekly report, 1d for a daily
	// one, 30d for a monthly one).
	Period Duration `yaml:"period,omitempty" json:"period,omitempty"`
	// Receivers (names in notify.receivers) that get it: email, dingtalk and wecom ones
	// (default: every one of those kinds).
	Receivers []string `yaml:"receivers,omitempty" json:"receivers,omitempty"`
}

// Fleet puts this host in a fleet of GPU hosts: every series carries a host label.
type Fleet struct {
	// standalone (default: everything on this host), agent (the exporters and a Prometheus in
	// agent mode that sends everything to the central stack; no rules, Alertmanager or
	// Grafana here), or central (accepts what the agents send and shows every host).
	Role string `yaml:"role,omitempty" json:"role,omitempty"`
	// This host's name: the host label of its series (default: the machine's hostname).
	HostName string `yaml:"host_name,omitempty" json:"host_name,omitempty"`
	// Agent: the central stack's Prometheus, http://central:9090 (its remote-write receiver).
	Central string `yaml:"central,omitempty" json:"central,omitempty"`
	// Agent: the central Prometheus' password of user llmmon (its data_dir/secrets/llmmon-password); use ${VAR}.
	CentralPassword Secret `yaml:"central_password,omitempty" json:"central_password,omitempty"`
	// File holding the central password.
	CentralPasswordFile string `yaml:"central_password_file,omitempty" json:"central_password_file,omitempty"`
}

// Fleet roles.
const (
	RoleStandalone = "standalone"
	RoleAgent      = "agent"
	RoleCentral    = "central"
)

// RemoteWrite is one long-term store.
type RemoteWrite struct {
	// A name for it (in metrics and alerts).
	Name string `yaml:"name" json:"name"`
	// Its remote-write endpoint, e.g. http://vm:8428/api/v1/write. It is written into
	// prometheus.yml: put tokens in bearer_token or password, which are kept in files of their own.
	URL string `yaml:"url" json:"url"`
	// Basic auth user name.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// Basic auth password; use ${VAR}.
	Password Secret `yaml:"password,omitempty" json:"password,omitempty"`
	// File holding the basic auth password.
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	// Bearer token; use ${VAR}.
	BearerToken Secret `yaml:"bearer_token,omitempty" json:"bearer_token,omitempty"`
	// File holding the bearer token.
	BearerTokenFile string `yaml:"bearer_token_file,omitempty" json:"bearer_token_file,omitempty"`
	// CA certificate file for an https endpoint with a private CA.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// CAData is the CA file's content, read with the secrets.
	CAData string `yaml:"-" json:"-"`
	// Skip verifying the endpoint's certificate (not recommended).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	// Extra HTTP headers, e.g. X-Scope-OrgID for Mimir.
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Queue settings (defaults: Prometheus', which suit a few hosts).
	Queue *RemoteWriteQueue `yaml:"queue,omitempty" json:"queue,omitempty"`
}

// RemoteWriteQueue tunes a remote-write queue.
type RemoteWriteQueue struct {
	// Samples buffered per shard (default 10000).
	Capacity int `yaml:"capacity,omitempty" json:"capacity,omitempty"`
	// Most shards, i.e. concurrent requests (default 50).
	MaxShards int `yaml:"max_shards,omitempty" json:"max_shards,omitempty"`
	// Most samples in one request (default 2000).
	MaxSamplesPerSend int `yaml:"max_samples_per_send,omitempty" json:"max_samples_per_send,omitempty"`
	// Longest a sample waits in a shard before it is sent (default 5s).
	BatchSendDeadline Duration `yaml:"batch_send_deadline,omitempty" json:"batch_send_deadline,omitempty"`
}

// LongTerm is a long-term store the stack runs itself.
type LongTerm struct {
	// Run VictoriaMetrics: Prometheus sends it every sample, and Grafana's dashboards read it,
	// so they show months while Prometheus keeps prometheus.retention.
	VictoriaMetrics bool `yaml:"victoriametrics,omitempty" json:"victoriametrics,omitempty"`
	// How long VictoriaMetrics keeps the data (default 365d).
	Retention Duration `yaml:"retention,omitempty" json:"retention,omitempty"`
}

// Notify lists receivers and routing.
type Notify struct {
	// Where notifications go. Each receiver has a name and exactly one of email, dingtalk, wecom, wecom_app, webhook.
	Receivers []Receiver `yaml:"receivers,omitempty" json:"receivers,omitempty"`
	// Which receivers get which severity.
	Route Route `yaml:"route,omitempty" json:"route,omitempty"`
}

// Receiver is one notification destination.
type Receiver struct {
	// Unique receiver name.
	Name string `yaml:"name" json:"name"`
	// Email through an SMTP server.
	Email *Email `yaml:"email,omitempty" json:"email,omitempty"`
	// DingTalk custom robot.
	DingTalk *DingTalk `yaml:"dingtalk,omitempty" json:"dingtalk,omitempty"`
	// WeCom (WeChat Work) group robot.
	WeCom *WeCom `yaml:"wecom,omitempty" json:"wecom,omitempty"`
	// WeCom application message.
	WeComApp *WeComApp `yaml:"wecom_app,omitempty" json:"wecom_app,omitempty"`
	// Generic webhook (Alertmanager's webhook JSON).
	Webhook *Webhook `yaml:"webhook,omitempty" json:"webhook,omitempty"`
}

// Kind returns the receiver's type name ("email", "dingtalk", ...) or "" when none is set.
func (r Receiver) Kind() string {
	switch {
	case r.Email != nil:
		return "email"
	case r.DingTalk != nil:
		return "dingtalk"
	case r.WeCom != nil:
		return "wecom"
	case r.WeComApp != nil:
		return "wecom_app"
	case r.Webhook != nil:
		return "webhook"
	}
	return ""
}

// IsChat reports whether the receiver is a chat (not email).
func (r Receiver) IsChat() bool { k := r.Kind(); return k != "" && k != "email" }

// Email is an SMTP receiver.
type Email struct {
	// Recipients.
	To []string `yaml:"to" json:"to"`
	// Sender address.
	From string `yaml:"from" json:"from"`
	// SMTP server as host:port.
	Smarthost string `yaml:"smarthost" json:"smarthost"`
	// SMTP user name.
	Username string `yaml:"username,omitempty" json:"username,omitempty"`
	// SMTP password; use ${VAR}.
	Password Secret `yaml:"password,omitempty" json:"password,omitempty"`
	// File holding the SMTP password.
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
	// Transport security: starttls (default), tls (implicit, port 465) or none.
	TLS string `yaml:"tls,omitempty" json:"tls,omitempty"`
	// Skip verifying the server's certificate (not recommended).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
}

// DingTalk is a DingTalk custom robot.
type DingTalk struct {
	// Robot webhook URL, https://oapi.dingtalk.com/robot/send?access_token=...; use ${VAR}.
	URL Secret `yaml:"url,omitempty" json:"url,omitempty"`
	// File holding the webhook URL.
	URLFile string `yaml:"url_file,omitempty" json:"url_file,omitempty"`
	// Signing secret (SEC...) for robots in signed mode; use ${VAR}.
	Secret Secret `yaml:"secret,omitempty" json:"secret,omitempty"`
	// File holding the signing secret.
	SecretFile string `yaml:"secret_file,omitempty" json:"secret_file,omitempty"`
	// Keyword every message must contain, for robots in keyword mode.
	Keyword string `yaml:"keyword,omitempty" json:"keyword,omitempty"`
	// Mobile numbers to @mention.
	AtMobiles []string `yaml:"at_mobiles,omitempty" json:"at_mobiles,omitempty"`
	// @mention everyone.
	AtAll bool `yaml:"at_all,omitempty" json:"at_all,omitempty"`
}

// WeCom is a WeCom group robot.
type WeCom struct {
	// Robot webhook URL, https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...; use ${VAR}.
	URL Secret `yaml:"url,omitempty" json:"url,omitempty"`
	// File holding the webhook URL.
	URLFile string `yaml:"url_file,omitempty" json:"url_file,omitempty"`
	// User ids to @mention, or "@all".
	Mentioned []string `yaml:"mentioned,omitempty" json:"mentioned,omitempty"`
	// Mobile numbers to @mention.
	MentionedMobiles []string `yaml:"mentioned_mobiles,omitempty" json:"mentioned_mobiles,omitempty"`
}

// WeComApp sends WeCom application messages through Alertmanager's wechat receiver.
type WeComApp struct {
	// Corporation id.
	CorpID string `yaml:"corp_id" json:"corp_id"`
	// Application (agent) id.
	AgentID string `yaml:"agent_id" json:"agent_id"`
	// Application secret; use ${VAR}.
	Secret Secret `yaml:"secret,omitempty" json:"secret,omitempty"`
	// File holding the application secret.
	SecretFile string `yaml:"secret_file,omitempty" json:"secret_file,omitempty"`
	// Users, parties and tags to send to (at least one); "@all" for every user.
	ToUser string `yaml:"to_user,omitempty" json:"to_user,omitempty"`
	// Parties (departments) to send to.
	ToParty string `yaml:"to_party,omitempty" json:"to_party,omitempty"`
	// Tags to send to.
	ToTag string `yaml:"to_tag,omitempty" json:"to_tag,omitempty"`
	// API base URL (default https://qyapi.weixin.qq.com/cgi-bin/).
	APIURL string `yaml:"api_url,omitempty" json:"api_url,omitempty"`
}

// Webhook is a generic webhook receiver.
type Webhook struct {
	// URL Alertmanager posts its JSON to; use ${VAR} for tokens.
	URL Secret `yaml:"url,omitempty" json:"url,omitempty"`
	// File holding the URL.
	URLFile string `yaml:"url_file,omitempty" json:"url_file,omitempty"`
	// Bearer token sent in the Authorization header; use ${VAR}.
	BearerToken Secret `yaml:"bearer_token,omitempty" json:"bearer_token,omitempty"`
	// File holding the bearer token.
	BearerTokenFile string `yaml:"bearer_token_file,omitempty" json:"bearer_token_file,omitempty"`
}

// Route says which receivers get which severity.
type Route struct {
	// Receivers of critical alerts (default: every receiver).
	Critical []string `yaml:"critical,omitempty" json:"critical,omitempty"`
	// Receivers of warning alerts (default: every chat receiver, or every receiver when there is no chat).
	Warning []string `yaml:"warning,omitempty" json:"warning,omitempty"`
	// Receivers of info alerts (default: none).
	Info []string `yaml:"info,omitempty" json:"info,omitempty"`
	// Wait before the first notification of a new group (default 5s).
	GroupWait Duration `yaml:"group_wait,omitempty" json:"group_wait,omitempty"`
	// Wait before notifying about changes in a group (default 1m).
	GroupInterval Duration `yaml:"group_interval,omitempty" json:"group_interval,omitempty"`
	// Wait before repeating a notification that is still firing (default 4h).
	RepeatInterval Duration `yaml:"repeat_interval,omitempty" json:"repeat_interval,omitempty"`
}

// Images selects container images.
type Images struct {
	// Registry prefix put before every default image, e.g. a Docker Hub mirror such as docker.m.daocloud.io.
	Mirror string `yaml:"mirror,omitempty" json:"mirror,omitempty"`
	// Prometheus image (default prom/prometheus:vX).
	Prometheus string `yaml:"prometheus,omitempty" json:"prometheus,omitempty"`
	// Alertmanager image.
	Alertmanager string `yaml:"alertmanager,omitempty" json:"alertmanager,omitempty"`
	// Grafana image.
	Grafana string `yaml:"grafana,omitempty" json:"grafana,omitempty"`
	// node-exporter image.
	NodeExporter string `yaml:"node_exporter,omitempty" json:"node_exporter,omitempty"`
	// dcgm-exporter image.
	DCGMExporter string `yaml:"dcgm_exporter,omitempty" json:"dcgm_exporter,omitempty"`
	// VictoriaMetrics image (long_term.victoriametrics).
	VictoriaMetrics string `yaml:"victoriametrics,omitempty" json:"victoriametrics,omitempty"`
}

// Duration is a Prometheus-style duration (30s, 5m, 2h, 15d, 1w).
type Duration time.Duration

// Secret is a string that is never printed: String and MarshalJSON hide it.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// Value returns the secret's value, for the renderer only.
func (s Secret) Value() string { return string(s) }
