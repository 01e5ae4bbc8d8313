// Package gpuexp is llmmon's GPU exporter for hosts where dcgm-exporter cannot run (GeForce and
// older cards, WSL): it runs `nvidia-smi --query-gpu=... --format=csv` at each scrape and exposes
// the readings under the names utkuozdemir/nvidia_gpu_exporter uses (nvidia_smi_utilization_gpu_ratio,
// nvidia_smi_memory_used_bytes, nvidia_smi_gpu_info{uuid,name,index,...}), so that llmmon's
// records read this exporter and that one alike. It is hand-written because that exporter's Go
// module is not served where llmmon is built (README, "Dependencies").
package gpuexp

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// field is one nvidia-smi query field and the metric it becomes.
type field struct {
	query  string  // nvidia-smi's name
	metric string  // the exported name
	help   string  // HELP text
	scale  float64 // multiplies the value in nvidia-smi's unit
}

// fields are the readings exported per GPU: what the dashboards, records and alerts use.
var fields = []field{
	{"utilization.gpu", "nvidia_smi_utilization_gpu_ratio", "utilization.gpu [%]", 0.01},
	{"utilization.memory", "nvidia_smi_utilization_memory_ratio", "utilization.memory [%]", 0.01},
	{"memory.total", "nvidia_smi_memory_total_bytes", "memory.total [MiB]", 1 << 20},
	{"memory.used", "nvidia_smi_memory_used_bytes", "memory.used [MiB]", 1 << 20},
	{"memory.free", "nvidia_smi_memory_free_bytes", "memory.free [MiB]", 1 << 20},
	{"temperature.gpu", "nvidia_smi_temperature_gpu", "temperature.gpu", 1},
	{"power.draw", "nvidia_smi_power_draw_watts", "power.draw [W]", 1},
	{"power.limit", "nvidia_smi_power_limit_watts", "power.limit [W]", 1},
	{"clocks.current.sm", "nvidia_smi_clocks_current_sm_clock_hz", "clocks.current.sm [MHz]", 1e6},
	{"clocks.current.memory", "nvidia_smi_clocks_current_memory_clock_hz", "clocks.current.memory [MHz]", 1e6},
	{"fan.speed", "nvidia_smi_fan_speed_ratio", "fan.speed [%]", 0.01},
}

// infoFields are the identity fields, labels of nvidia_smi_gpu_info.
var infoFields = []string{"index", "uuid", "name", "driver_version", "pci.bus_id"}

// Query is the nvidia-smi argument list the exporter runs.
func Query() []string {
	q := append([]string(nil), infoFields...)
	for _, f := range fields {
		q = append(q, f.query)
	}
	return []string{"--query-gpu=" + strings.Join(q, ","), "--format=csv"}
}

// GPU is one GPU's readings.
type GPU struct {
	Info   map[string]string  // infoFields by name
	Values map[string]float64 // by metric name; a reading the GPU does not support is absent
}

// UUID is the GPU's UUID as the metrics label it, without nvidia-smi's "GPU-" prefix.
func (g GPU) UUID() string { return strings.TrimPrefix(g.Info["uuid"], "GPU-") }

// Parse reads nvidia-smi's CSV output (--format=csv: a header of "field [unit]" names, then a
// row per GPU with values such as "143771 MiB", "100 %" or "[N/A]"). Columns it does not know
// are ignored, so it reads a capture of every field as well as its own query.
func Parse(r io.Reader) ([]GPU, error) {
	cr := csv.NewReader(r)
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("nvidia-smi printed something that is not CSV: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("nvidia-smi printed nothing")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		name, _, _ := strings.Cut(strings.TrimSpace(h), " [")
		col[name] = i
	}
	for _, f := range []string{"uuid", "index"} {
		if _, ok := col[f]; !ok {
			return nil, fmt.Errorf("nvidia-smi's output has no %s column (header: %.80s)", f, strings.Join(rows[0], ","))
		}
	}
	var gpus []GPU
	for _, row := range rows[1:] {
		if len(row) != len(rows[0]) {
			return nil, fmt.Errorf("nvidia-smi printed a row of %d values for %d columns", len(row), len(rows[0]))
		}
		g := GPU{Info: map[string]string{}, Values: map[string]float64{}}
		for _, f := range infoFields {
			if i, ok := col[f]; ok {
				g.Info[f] = strings.TrimSpace(row[i])
			}
		}
		for _, f := range fields {
			i, ok := col[f.query]
			if !ok {
				continue
			}
			if v, ok := number(row[i]); ok {
				g.Values[f.metric] = v * f.scale
			}
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}

// number reads "627.40 W", "100 %", "52" or "0x3"; "[N/A]" and "[Not Supported]" are no number.
func number(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "[") {
		return 0, false
	}
	if v, _, ok := strings.Cut(s, " "); ok {
		s = v
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// Runner runs nvidia-smi with args and returns its standard output.
type Runner func(ctx context.Context, args ...string) ([]byte, error)

// Command runs the nvidia-smi at path.
func Command(path string) Runner {
	return func(ctx context.Context, args ...string) ([]byte, error) {
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, path, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(errb.String() + " " + out.String())
			return nil, fmt.Errorf("%s: %w: %.200s", path, err, msg)
		}
		return out.Bytes(), nil
	}
}

// Collector is a prometheus.Collector that runs nvidia-smi at each scrape.
type Collector struct {
	run     Runner
	timeout time.Duration

	mu       sync.Mutex
	failures float64
}

// NewCollector returns a collector that runs nvidia-smi through run, each run bounded by timeout.
func NewCollector(run Runner, timeout time.Duration) *Collector {
	return &Collector{run: run, timeout: timeout}
}

var (
	infoDesc     = prometheus.NewDesc("nvidia_smi_gpu_info", "A metric with a constant '1' value labeled by gpu uuid, name, index, driver_version and pci_bus_id.", []string{"uuid", "name", "index", "driver_version", "pci_bus_id"}, nil)
	indexDesc    = prometheus.NewDesc("nvidia_smi_index", "index", []string{"uuid"}, nil)
	exitDesc     = prometheus.NewDesc("nvidia_smi_command_exit_code", "Exit code of the most recent nvidia-smi run (-1 when it could not run).", nil, nil)
	failuresDesc = prometheus.NewDesc("nvidia_smi_failed_scrapes_total", "Scrapes whose nvidia-smi run failed.", nil, nil)
	fieldDescs   = func() map[string]*prometheus.Desc {
		m := map[string]*prometheus.Desc{}
		for _, f := range fields {
			m[f.metric] = prometheus.NewDesc(f.metric, f.help, []string{"uuid"}, nil)
		}
		return m
	}()
)

// Describe sends the descriptions of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{infoDesc, indexDesc, exitDesc, failuresDesc} {
		ch <- d
	}
	for _, f := range fields {
		ch <- fieldDescs[f.metric]
	}
}

// Collect runs nvidia-smi and sends its readings.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	out, err := c.run(ctx, Query()...)
	var gpus []GPU
	if err == nil {
		gpus, err = Parse(bytes.NewReader(out))
	}
	c.mu.Lock()
	if err != nil {
		c.failures++
	}
	failures := c.failures
	c.mu.Unlock()
	code := 0.0
	if err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = float64(ee.ExitCode())
		}
	}
	ch <- prometheus.MustNewConstMetric(exitDesc, prometheus.GaugeValue, code)
	ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, failures)
	for _, g := range gpus {
		uuid := g.UUID()
		ch <- prometheus.MustNewConstMetric(infoDesc, prometheus.GaugeValue, 1, uuid, g.Info["name"], g.Info["index"], g.Info["driver_version"], g.Info["pci.bus_id"])
		if i, ok := number(g.Info["index"]); ok {
			ch <- prometheus.MustNewConstMetric(indexDesc, prometheus.GaugeValue, i, uuid)
		}
		for _, f := range fields {
			if v, ok := g.Values[f.metric]; ok {
				ch <- prometheus.MustNewConstMetric(fieldDescs[f.metric], prometheus.GaugeValue, v, uuid)
			}
		}
	}
}
