// Command fleet measures a fleet's data path on this machine, in one run, with the real
// binaries: an agent (Prometheus 3.15 in agent mode, as `llmmon up --role agent` runs it)
// scraping 5 model services (vLLM's real /metrics, from ../shared/fixtures), 8 GPUs' worth of
// dcgm-exporter series (its default counters) and the real node_exporter, remote-writing to a
// central Prometheus (its remote-write receiver) and to VictoriaMetrics (Debian's package).
// The baseline, beside it: federation, the way fleets were built before remote_write: a full
// Prometheus on the host scraping the same targets, and a central Prometheus scraping its
// /federate every scrape interval.
//
// It prints the samples per second the agent sends and each central side ingests, the agent's
// (and the federated edge Prometheus') memory and CPU, and the lag from a value changing on a
// model service to it being queryable centrally (median and p95 of probes).
//
// Run: make bench-fleet (about 4 minutes; -measure changes it).
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/bench/internal/benchkit"
)

func main() {
	bin := flag.String("bin", filepath.Join(os.Getenv("HOME"), ".cache", "llmmon-test", "bin"), "directory with prometheus-3.15.0 and node_exporter-1.12.1 (make test-images)")
	fixtures := flag.String("fixtures", "../shared/fixtures", "the shared fixtures (vLLM's /metrics, dcgm-exporter's counters)")
	services := flag.Int("services", 5, "model services on the host")
	gpus := flag.Int("gpus", 8, "GPUs on the host")
	interval := flag.Duration("interval", 5*time.Second, "scrape interval (llmmon's default)")
	warmup := flag.Duration("warmup", 45*time.Second, "time before measuring")
	measure := flag.Duration("measure", 2*time.Minute, "time measured")
	flag.Parse()
	vmBin, err := exec.LookPath("victoria-metrics")
	benchkit.Must(wrapf(err, "victoria-metrics is not installed (apt-get install victoria-metrics)"))
	vllm, err := os.ReadFile(filepath.Join(*fixtures, "metrics", "vllm.prom"))
	benchkit.Must(wrapf(err, "the vLLM fixture"))
	counters, err := os.ReadFile(filepath.Join(*fixtures, "metrics", "dcgm-default-counters.csv"))
	benchkit.Must(wrapf(err, "the dcgm-exporter counters fixture"))
	dir, err := os.MkdirTemp("", "llmmon-bench-fleet-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })

	// The host's targets: model services, the GPUs, a probe value that changes every second.
	var probe atomic.Int64
	gpuText := dcgmText(counters, *gpus)
	mux := http.NewServeMux()
	for i := 0; i < *services; i++ {
		mux.HandleFunc(fmt.Sprintf("/svc%d/metrics", i), func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			w.Write(vllm)
			fmt.Fprintf(w, "# TYPE llmmon_bench_probe gauge\nllmmon_bench_probe %d\n", probe.Load())
		})
	}
	mux.HandleFunc("/gpu/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		io.WriteString(w, gpuText)
	})
	targets := listen()
	go http.Serve(targets, mux)
	ta := targets.Addr().String()

	node := freeAddr()
	start(dir, "node", filepath.Join(*bin, "node_exporter-1.12.1"), "--web.listen-address="+node, "--no-collector.systemd")
	vm := freeAddr()
	start(dir, "victoria", vmBin, "-httpListenAddr="+vm, "-storageDataPath="+filepath.Join(dir, "vm"), "-search.latencyOffset=0s", "-loggerLevel=ERROR")
	prom := filepath.Join(*bin, "prometheus-3.15.0")
	scrape := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "global: {scrape_interval: %s, evaluation_interval: %s, external_labels: {host: gpu-01}}\nscrape_configs:\n", *interval, *interval)
		for i := 0; i < *services; i++ {
			fmt.Fprintf(&b, "  - {job_name: vllm-%d, metrics_path: /svc%d/metrics, static_configs: [{targets: [%q], labels: {target: svc%d, engine: vllm}}]}\n", i, i, ta, i)
		}
		fmt.Fprintf(&b, "  - {job_name: dcgm, metrics_path: /gpu/metrics, static_configs: [{targets: [%q]}]}\n", ta)
		fmt.Fprintf(&b, "  - {job_name: node, static_configs: [{targets: [%q]}]}\n", node)
		return b.String()
	}
	// The central Prometheus (remote-write receiver) and the agent.
	central := freeAddr()
	startProm(dir, "central", prom, "global: {scrape_interval: 1h}\n", central, "--web.enable-remote-write-receiver")
	agent := freeAddr()
	startProm(dir, "agent", prom, scrape()+fmt.Sprintf("  - {job_name: prometheus, static_configs: [{targets: [%q]}]}\nremote_write:\n  - {name: central, url: \"http://%s/api/v1/write\"}\n  - {name: victoria, url: \"http://%s/api/v1/write\"}\n", agent, central, vm), agent, "--agent")
	// The baseline: a full Prometheus on the host, federated by a second central Prometheus.
	edge := freeAddr()
	startProm(dir, "edge", prom, scrape()+fmt.Sprintf("  - {job_name: prometheus, static_configs: [{targets: [%q]}]}\n", edge), edge)
	fed := freeAddr()
	startProm(dir, "federating", prom, fmt.Sprintf("global: {scrape_interval: %s}\nscrape_configs:\n  - {job_name: federate, honor_labels: true, metrics_path: /federate, params: {'match[]': ['{__name__=~\".+\"}']}, static_configs: [{targets: [%q]}]}\n", *interval, edge), fed)

	// The probe: a new value every second.
	ctx, cancel := context.WithCancel(context.Background())
	benchkit.AtExit(cancel)
	go func() {
		for ctx.Err() == nil {
			probe.Store(time.Now().UnixMilli())
			time.Sleep(time.Second)
		}
	}()
	fmt.Fprintf(os.Stderr, "warming up for %s...\n", *warmup)
	time.Sleep(*warmup)

	type snap struct {
		at                                        time.Time
		sent, sentVM, agentCPU, agentRSS, edgeCPU float64
		edgeRSS, centralIn, vmIn, fedIn, edgeIn   float64
	}
	take := func() snap {
		a := metrics("http://" + agent + "/metrics")
		e := metrics("http://" + edge + "/metrics")
		return snap{at: time.Now(),
			sent: get(a, "prometheus_remote_storage_samples_total", "remote_name", "central"), sentVM: get(a, "prometheus_remote_storage_samples_total", "remote_name", "victoria"),
			agentCPU: get(a, "process_cpu_seconds_total"), agentRSS: get(a, "process_resident_memory_bytes"),
			edgeCPU: get(e, "process_cpu_seconds_total"), edgeRSS: get(e, "process_resident_memory_bytes"),
			centralIn: get(metrics("http://"+central+"/metrics"), "prometheus_tsdb_head_samples_appended_total", "type", "float"),
			vmIn:      get(metrics("http://"+vm+"/metrics"), "vm_rows_inserted_total", "type", "promremotewrite"),
			fedIn:     get(metrics("http://"+fed+"/metrics"), "prometheus_tsdb_head_samples_appended_total", "type", "float"),
			edgeIn:    get(e, "prometheus_tsdb_head_samples_appended_total", "type", "float"),
		}
	}
	s0 := take()
	var lagRW, lagVM, lagFed []float64
	var peakAgent, peakEdge float64
	for deadline := time.Now().Add(*measure); time.Now().Before(deadline); time.Sleep(time.Second) {
		now := time.Now()
		if v, ok := query("http://"+central, `max(llmmon_bench_probe{host="gpu-01"})`); ok {
			lagRW = append(lagRW, float64(now.UnixMilli())-v)
		}
		if v, ok := query("http://"+vm, `max(llmmon_bench_probe{host="gpu-01"})`); ok {
			lagVM = append(lagVM, float64(now.UnixMilli())-v)
		}
		if v, ok := query("http://"+fed, `max(llmmon_bench_probe{host="gpu-01"})`); ok {
			lagFed = append(lagFed, float64(now.UnixMilli())-v)
		}
		peakAgent = math.Max(peakAgent, get(metrics("http://"+agent+"/metrics"), "process_resident_memory_bytes"))
		peakEdge = math.Max(peakEdge, get(metrics("http://"+edge+"/metrics"), "process_resident_memory_bytes"))
	}
	s1 := take()
	secs := s1.at.Sub(s0.at).Seconds()
	rate := func(a, b float64) float64 { return (b - a) / secs }
	series := get(metrics("http://"+central+"/metrics"), "prometheus_tsdb_head_series")
	fmt.Printf("a fleet host on this machine: %d model services (vLLM's /metrics), %d GPUs (dcgm-exporter's default counters), node_exporter; scrape every %s; measured %s\n",
		*services, *gpus, *interval, time.Duration(secs*float64(time.Second)).Round(time.Second))
	fmt.Printf("series on the central side: %.0f\n\n", series)
	fmt.Printf("%-34s %-22s %-22s %-26s\n", "", "remote_write (llmmon)", "  to VictoriaMetrics", "baseline: federation")
	fmt.Printf("%-34s %-22s %-22s %-26s\n", "samples/s sent by the host", f0(rate(s0.sent, s1.sent)), f0(rate(s0.sentVM, s1.sentVM)), f0(rate(s0.edgeIn, s1.edgeIn))+" (scraped by the edge)")
	fmt.Printf("%-34s %-22s %-22s %-26s\n", "samples/s ingested centrally", f0(rate(s0.centralIn, s1.centralIn)), f0(rate(s0.vmIn, s1.vmIn)), f0(rate(s0.fedIn, s1.fedIn)))
	fmt.Printf("%-34s %-22s %-22s %-26s\n", "host-side memory (RSS now / peak)", mib(s1.agentRSS)+" / "+mib(peakAgent)+" (agent)", "(same agent)", mib(s1.edgeRSS)+" / "+mib(peakEdge)+" (full Prometheus)")
	fmt.Printf("%-34s %-22s %-22s %-26s\n", "host-side CPU", pct(rate(s0.agentCPU, s1.agentCPU))+" of a core (agent)", "(same agent)", pct(rate(s0.edgeCPU, s1.edgeCPU))+" of a core (edge)")
	fmt.Printf("%-34s %-22s %-22s %-26s\n", "lag, value change to queryable", lagText(lagRW), lagText(lagVM), lagText(lagFed))
	fmt.Printf("\n(lag includes waiting for the next scrape, on average half the %s interval; VictoriaMetrics runs with -search.latencyOffset=0s)\n", *interval)
	benchkit.Exit()
}

func startProm(dir, name, bin, cfg, addr string, extra ...string) {
	p := filepath.Join(dir, name+".yml")
	benchkit.Must(os.WriteFile(p, []byte(cfg), 0o644))
	args := []string{"--config.file=" + p, "--web.listen-address=" + addr}
	if len(extra) > 0 && extra[0] == "--agent" {
		args = append(args, "--agent", "--storage.agent.path="+filepath.Join(dir, name))
	} else {
		args = append(args, "--storage.tsdb.path="+filepath.Join(dir, name))
		args = append(args, extra...)
	}
	start(dir, name, bin, args...)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			benchkit.Must(fmt.Errorf("%s does not become ready; see %s", name, filepath.Join(dir, name+".log")))
		}
	}
}

func start(dir, name, bin string, args ...string) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	benchkit.Must(err)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	benchkit.Must(cmd.Start())
	benchkit.AtExit(func() { cmd.Process.Kill(); cmd.Wait() })
}

// dcgmText is dcgm-exporter's /metrics for n GPUs: every default counter of its CSV.
func dcgmText(csv []byte, n int) string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(csv))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		name, typ := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		if typ != "gauge" && typ != "counter" {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, strings.TrimSpace(f[2]), name, typ)
		for g := 0; g < n; g++ {
			fmt.Fprintf(&b, "%s{gpu=\"%d\",UUID=\"GPU-%08d-bench\",device=\"nvidia%d\",modelName=\"NVIDIA H200\",Hostname=\"gpu-01\"} %d\n", name, g, g, g, 40+g)
		}
	}
	return b.String()
}

func metrics(u string) map[string][]*sample {
	resp, err := http.Get(u)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil && len(fams) == 0 {
		return nil
	}
	out := map[string][]*sample{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			s := &sample{labels: map[string]string{}, value: m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			out[name] = append(out[name], s)
		}
	}
	return out
}

type sample struct {
	labels map[string]string
	value  float64
}

// get sums the series of a metric that have the label (name, value) when given.
func get(m map[string][]*sample, name string, label ...string) float64 {
	v := 0.0
	for _, s := range m[name] {
		if len(label) == 2 && s.labels[label[0]] != label[1] {
			continue
		}
		v += s.value
	}
	return v
}

func query(base, q string) (float64, bool) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	i := bytes.LastIndex(b, []byte(`,"`))
	if i < 0 {
		return 0, false
	}
	s := string(b[i+2:])
	s = s[:strings.IndexByte(s, '"')]
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil && v > 0
}

func lagText(ms []float64) string {
	if len(ms) == 0 {
		return "no data"
	}
	sort.Float64s(ms)
	q := func(p float64) float64 { return ms[int(p*float64(len(ms)-1))] / 1000 }
	return fmt.Sprintf("%.1f s (p95 %.1f s)", q(0.5), q(0.95))
}

func f0(v float64) string  { return fmt.Sprintf("%.0f", v) }
func mib(v float64) string { return fmt.Sprintf("%.0f MiB", v/(1<<20)) }
func pct(v float64) string { return fmt.Sprintf("%.1f %%", v*100) }

func listen() net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	benchkit.Must(err)
	return l
}

func freeAddr() string { return fmt.Sprintf("127.0.0.1:%d", benchkit.FreePort()) }

func wrapf(err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
