package cmd

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/spec"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print llmmon's version and the image versions it runs",
		Example: `  llmmon version`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := Version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			w := a.streams.Out
			fmt.Fprintf(w, "llmmon %s\n", v)
			s := &spec.Spec{}
			s.ApplyDefaults()
			for _, c := range []string{"prometheus", "alertmanager", "grafana", "node-exporter", "dcgm-exporter"} {
				fmt.Fprintf(w, "  %-14s %s\n", c, s.Image(c))
			}
			fmt.Fprintf(w, "  %-14s %s\n", "relay", "llmmon-relay, built locally from this binary (DingTalk and WeCom receivers)")
			return nil
		},
	}
}
