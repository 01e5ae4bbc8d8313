package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newValidateCmd(a *app) *cobra.Command {
	var offline bool
	c := &cobra.Command{
		Use:   "validate",
		Short: "Check the spec and everything generated from it",
		Long: `validate loads the spec strictly (unknown fields, wrong types and missing environment
variables are errors, each reported with file:line:col and a hint), renders the bundle, parses
every PromQL expression of the rules and dashboards with Prometheus' own parser and loads
alertmanager.yml with Alertmanager's own config package. Exit code 0 when all is well, 2 when the
spec is wrong. No Docker is needed.`,
		Example: `  llmmon validate
  llmmon validate -f prod.yaml && llmmon up -f prod.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, _, err := a.loadSpec(ctx, cmd)
			if err != nil {
				return err
			}
			res, err := a.engine().Render(ctx, s, stack.RenderOptions{Offline: offline})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Out, "OK: the spec and %d generated files are valid\n", len(res.Bundle.Files))
			return nil
		},
	}
	c.Flags().BoolVar(&offline, "offline", false, "do not probe targets to recognise their engine")
	return c
}
