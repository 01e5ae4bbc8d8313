package main

import (
	"math"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// gpu is one simulated GPU, as dcgm-exporter labels it.
type gpu struct {
	index, uuid, pciBusID, device string
}

var gpus = []gpu{
	{"0", "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52", "00000000:18:00.0", "nvidia0"},
	{"1", "GPU-9b2e1c7a-3f41-4d0e-a8c5-7d16f0e2b913", "00000000:3B:00.0", "nvidia1"},
}

const (
	gpuModelName     = "NVIDIA H100 80GB HBM3"
	gpuDriverVersion = "550.54.15"
	gpuFBTotalMiB    = 81559
	gpuFBReservedMiB = 581
)

// dcgmField is one metric of dcgm-exporter's default counters (etc/default-counters.csv).
type dcgmField struct {
	name, help string
	counter    bool
	value      func(st *gpuState) float64
}

var dcgmFields = []dcgmField{
	{"DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).", false, func(s *gpuState) float64 { return s.smClock }},
	{"DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).", false, func(s *gpuState) float64 { return 2619 }},
	{"DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).", false, func(s *gpuState) float64 { return s.memTemp }},
	{"DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", false, func(s *gpuState) float64 { return s.temp }},
	{"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", false, func(s *gpuState) float64 { return s.power }},
	{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy consumption since boot (in mJ).", true, func(s *gpuState) float64 { return math.Round(s.energy) }},
	{"DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "Total number of PCIe retries.", true, func(s *gpuState) float64 { return s.pcieReplay }},
	{"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", false, func(s *gpuState) float64 { return s.util }},
	{"DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).", false, func(s *gpuState) float64 { return math.Round(s.util * 0.45) }},
	{"DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).", false, func(s *gpuState) float64 { return 0 }},
	{"DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).", false, func(s *gpuState) float64 { return 0 }},
	{"DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).", false, func(s *gpuState) float64 { return gpuFBTotalMiB - gpuFBReservedMiB - s.fbUsed }},
	{"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", false, func(s *gpuState) float64 { return s.fbUsed }},
	{"DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB).", false, func(s *gpuState) float64 { return gpuFBReservedMiB }},
	{"DCGM_FI_DEV_ROW_REMAP_FAILURE", "Whether remapping of rows has failed", false, func(s *gpuState) float64 { return 0 }},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active.", false, func(s *gpuState) float64 { return round4(s.util / 100 * 0.97) }},
	{"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "Ratio of cycles the tensor (HMMA) pipe is active.", false, func(s *gpuState) float64 { return round4(s.util / 100 * 0.42) }},
	{"DCGM_FI_PROF_DRAM_ACTIVE", "Ratio of cycles the device memory interface is active sending or receiving data.", false, func(s *gpuState) float64 { return round4(s.util / 100 * 0.6) }},
	{"DCGM_FI_PROF_PCIE_TX_BYTES", "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.", false, func(s *gpuState) float64 { return math.Round(2e6 + s.util*1e5) }},
	{"DCGM_FI_PROF_PCIE_RX_BYTES", "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.", false, func(s *gpuState) float64 { return math.Round(3e6 + s.util*1.5e5) }},
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

type gpuState struct {
	util, fbUsed, temp, memTemp, power, smClock, energy, pcieReplay, xid float64
}

// dcgmExporter is a prometheus.Collector that renders the GPUs' state like dcgm-exporter:
// every series carries gpu, UUID, pci_bus_id, device, modelName, Hostname and
// DCGM_FI_DRIVER_VERSION, and DCGM_FI_DEV_XID_ERRORS carries err_code/err_msg once an XID is set.
type dcgmExporter struct {
	hostname string
	state    []gpuState
}

func newDCGM(reg *prometheus.Registry, o engineOptions) *dcgmExporter {
	d := &dcgmExporter{hostname: o.hostname, state: make([]gpuState, len(gpus))}
	for i := range d.state {
		d.state[i] = gpuState{util: 70, fbUsed: 70000, temp: 60, memTemp: 66, power: 400, smClock: 1980, energy: 4.2e9 + float64(i)*1e8}
	}
	reg.MustRegister(d)
	return d
}

// Describe sends nothing: the exporter is an unchecked collector, as XID series change label sets.
func (d *dcgmExporter) Describe(chan<- *prometheus.Desc) {}

func (d *dcgmExporter) Collect(ch chan<- prometheus.Metric) {
	names := []string{"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname", "DCGM_FI_DRIVER_VERSION"}
	for i, g := range gpus {
		st := &d.state[i]
		values := []string{g.index, g.uuid, g.pciBusID, g.device, gpuModelName, d.hostname, gpuDriverVersion}
		for _, f := range dcgmFields {
			t := prometheus.GaugeValue
			if f.counter {
				t = prometheus.CounterValue
			}
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(f.name, f.help, names, nil), t, f.value(st), values...)
		}
		xidNames, xidValues := names, values
		if st.xid != 0 {
			xidNames = append(append([]string{}, names...), "err_code", "err_msg")
			xidValues = append(append([]string{}, values...), strconv.Itoa(int(st.xid)), xidMessage(int(st.xid)))
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("DCGM_FI_DEV_XID_ERRORS", "Value of the last XID error encountered.", xidNames, nil),
			prometheus.GaugeValue, st.xid, xidValues...)
	}
}

func xidMessage(code int) string {
	switch code {
	case 79:
		return "GPU has fallen off the bus"
	case 48:
		return "Double Bit ECC Error"
	case 13:
		return "Graphics Engine Exception"
	}
	return "Unknown Error"
}

func (d *dcgmExporter) update(ts *tickStats) {
	for i := range d.state {
		st := &d.state[i]
		u := func(a, b float64) float64 { return a + (b-a)*ts.rng.Float64() }
		target := u(60, 95)
		if ts.mode == modeThroughputDrop {
			target = u(1, 5)
		}
		st.util = math.Round(clamp(0.6*st.util+0.4*target, 0, 100))
		st.fbUsed = math.Round(gpuFBTotalMiB * u(0.84, 0.86))
		if ts.mode == modeGPUMemFull {
			st.fbUsed = math.Round(gpuFBTotalMiB * 0.97)
		}
		st.temp = math.Round(50 + st.util*0.2 + u(0, 3))
		st.memTemp = st.temp + 6
		if ts.mode == modeGPUHot {
			st.temp, st.memTemp = 92, 95
		}
		st.power = math.Round((120+st.util*5.5+u(-10, 10))*1000) / 1000
		st.smClock = 1980
		if ts.mode == modeGPUHot {
			st.smClock = 1410 // thermal slowdown
		}
		st.energy += st.power * ts.dt * 1000
		if ts.rng.Float64() < 0.002 {
			st.pcieReplay++
		}
		st.xid = 0
		if ts.mode == modeGPUXid && i == 0 {
			st.xid = 79
		}
	}
}
