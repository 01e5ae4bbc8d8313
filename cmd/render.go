package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/compose"
	"github.com/llmmon/llmmon/stack/kube"
)

type renderFlags struct {
	out        string
	compose    bool
	offline    bool
	kubernetes bool
	kube       kube.Options
}

func newRenderCmd(a *app) *cobra.Command {
	f := &renderFlags{}
	c := &cobra.Command{
		Use:   "render",
		Short: "Write the generated configuration to a directory, without running anything",
		Long: `render writes everything llmmon generates from the spec: prometheus.yml with file-based
service discovery, rule files, alertmanager.yml and its templates, Grafana provisioning and
dashboards. Files that hold secrets are written with mode 0600. Every file is checked with
Prometheus' and Alertmanager's own parsers first. No Docker is needed.

With --kubernetes it writes the same monitoring for a cluster that runs the Prometheus
Operator (kube-prometheus-stack) instead: a ServiceMonitor (or PodMonitor) per model service,
PrometheusRules, an AlertmanagerConfig and its Secret, the relay for DingTalk and WeCom, the
dashboards as ConfigMaps for Grafana's sidecar, a kustomization.yaml (kubectl apply -k DIR) and
values.yaml for the chart.`,
		Example: `  llmmon render -o ./out                 # the bundle llmmon up would run
  llmmon render -o ./out --compose       # also write docker-compose.yml for compose users
  llmmon render -f prod.yaml -o /tmp/x --offline   # do not probe targets whose engine is auto
  llmmon render --kubernetes -o ./k8s --namespace monitoring --relay-image registry.example.com/llmmon-relay:1.4`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRender(cmd, a, f) },
	}
	c.Flags().StringVarP(&f.out, "output", "o", "", "directory to write the bundle to (required)")
	c.Flags().BoolVar(&f.compose, "compose", false, "also write docker-compose.yml that runs the same stack")
	c.Flags().BoolVar(&f.offline, "offline", false, "do not probe targets to recognise their engine")
	c.Flags().BoolVar(&f.kubernetes, "kubernetes", false, "write Prometheus Operator objects for a Kubernetes cluster instead of the bundle")
	c.Flags().StringVar(&f.kube.Namespace, "namespace", "monitoring", "with --kubernetes: the namespace of the objects (kube-prometheus-stack's)")
	c.Flags().StringVar(&f.kube.Release, "release", "kube-prometheus-stack", "with --kubernetes: the chart's release name (its release label)")
	c.Flags().StringVar(&f.kube.RelayImage, "relay-image", "llmmon-relay:latest", "with --kubernetes: the relay's image, pushed where the cluster pulls from")
	c.MarkFlagsMutuallyExclusive("kubernetes", "compose")
	return c
}

func runRender(cmd *cobra.Command, a *app, f *renderFlags) error {
	if f.out == "" {
		return usageError{fmt.Errorf("--output (-o) is required: the directory to write to")}
	}
	ctx := cmd.Context()
	s, _, err := a.loadSpec(ctx, cmd)
	if err != nil {
		return err
	}
	res, err := a.engine().Render(ctx, s, stack.RenderOptions{Offline: f.offline})
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(a.streams.ErrOut, "note: %s\n", n)
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", f.out, err)
	}
	if f.kubernetes {
		files, err := kube.Render(s, res.Bundle, f.kube)
		if err != nil {
			return err
		}
		if err := kube.Write(f.out, files); err != nil {
			return err
		}
		fmt.Fprintf(a.streams.ErrOut, "Wrote %d files to %s: kubectl apply -k %s, and helm ... -f %s\n", len(files), f.out, f.out, filepath.Join(f.out, "values.yaml"))
		return nil
	}
	if err := res.Bundle.Write(f.out); err != nil {
		return err
	}
	n := len(res.Bundle.Files)
	if f.compose {
		data, err := compose.File(s, res)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(f.out, "docker-compose.yml"), data, 0o644); err != nil {
			return fmt.Errorf("write docker-compose.yml: %w", err)
		}
		n++
	}
	fmt.Fprintf(a.streams.ErrOut, "Wrote %d files to %s\n", n, f.out)
	return nil
}
