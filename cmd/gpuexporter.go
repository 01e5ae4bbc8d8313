package cmd

import (
	"fmt"
	"time"

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
			srv, err := gpuexp.Listen(listen, smi, timeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.ErrOut, "Serving GPU metrics from %s on http://%s/metrics\n", srv.SMI, srv.Addr)
			return srv.Serve(cmd.Context())
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:9835", "address to serve /metrics on")
	c.Flags().StringVar(&smi, "nvidia-smi", "nvidia-smi", "nvidia-smi to run")
	c.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "longest an nvidia-smi run may take")
	return c
}
