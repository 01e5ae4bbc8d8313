package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/compose"
)

type renderFlags struct {
	out     string
	compose bool
	offline bool
}

func newRenderCmd(a *app) *cobra.Command {
	f := &renderFlags{}
	c := &cobra.Command{
		Use:   "render",
		Short: "Write the generated configuration to a directory, without running anything",
		Long: `render writes everything llmmon generates from the spec: prometheus.yml with file-based
service discovery, rule files, alertmanager.yml and its templates, Grafana provisioning and
dashboards. Files that hold secrets are written with mode 0600. Every file is checked with
Prometheus' and Alertmanager's own parsers first. No Docker is needed.`,
		Example: `  llmmon render -o ./out                 # the bundle llmmon up would run
  llmmon render -o ./out --compose       # also write docker-compose.yml for compose users
  llmmon render -f prod.yaml -o /tmp/x --offline   # do not probe targets whose engine is auto`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRender(cmd, a, f) },
	}
	c.Flags().StringVarP(&f.out, "output", "o", "", "directory to write the bundle to (required)")
	c.Flags().BoolVar(&f.compose, "compose", false, "also write docker-compose.yml that runs the same stack")
	c.Flags().BoolVar(&f.offline, "offline", false, "do not probe targets to recognise their engine")
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
