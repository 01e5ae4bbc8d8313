package cmd

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/gpuexp"
)

func newGPUExporterCmd(a *app) *cobra.Command {
	var listen, smi string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "gpu-exporter",
		Short: "Serve NVIDIA GPU metrics from nvidia-smi, for hosts where dcgm-exporter cannot run (GeForce, WSL)",
		Long: `gpu-exporter runs nvidia-smi --query-gpu at each scrape and serves the readings on /metrics
under the names utkuozdemir/nvidia_gpu_exporter uses (nvidia_smi_utilization_gpu_ratio,
nvidia_smi_memory_used_bytes, ...): utilisation, memory, temperature, power, clocks, fan. Run it
on the GPU host (it needs nvidia-smi, nothing else) and point the spec's
nvidia_smi_exporter_address at it; llmmon's GPU dashboard, overview and GPU alerts then read it.`,
		Example: `  llmmon gpu-exporter --listen 127.0.0.1:9835
  curl -s 127.0.0.1:9835/metrics | grep nvidia_smi_memory_used_bytes`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := exec.LookPath(smi)
			if err != nil {
				return errors.New("nvidia-smi not found: install the NVIDIA driver, or give its path with --nvidia-smi")
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(gpuexp.NewCollector(gpuexp.Command(path), timeout))
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("cannot listen on %s (is another exporter there? choose another with --listen): %w", listen, err)
			}
			fmt.Fprintf(a.streams.ErrOut, "Serving GPU metrics from %s on http://%s/metrics\n", path, ln.Addr())
			srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-cmd.Context().Done()
				_ = srv.Close()
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:9835", "address to serve /metrics on")
	c.Flags().StringVar(&smi, "nvidia-smi", "nvidia-smi", "nvidia-smi to run")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "longest an nvidia-smi run may take")
	return c
}
