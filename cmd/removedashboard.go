package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newRemoveDashboardCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-dashboard UID|TITLE|FILE",
		Short: "Remove an imported dashboard from the data directory and from the running Grafana",
		Long: `remove-dashboard removes a dashboard added with import-dashboard, named by its uid, its title or
its file in DATA_DIR/dashboards/imported (llmmon dashboards lists them): the file is deleted from
the data directory and from the running Grafana, which reloads its provisioning and drops the
dashboard, without a restart. llmmon's own dashboards cannot be removed.`,
		Example: `  llmmon dashboards
  llmmon remove-dashboard vllm-grafana
  llmmon remove-dashboard "NVIDIA DCGM Exporter Dashboard"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return usageError{fmt.Errorf("remove-dashboard takes one imported dashboard: its uid, title or file (llmmon dashboards lists them)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				res, err := e.RemoveDashboard(cmd.Context(), s, args[0])
				if err != nil {
					return err
				}
				w := a.streams.ErrOut
				fmt.Fprintf(w, "Removed %q (uid %s): %s deleted.\n", res.Title, res.UID, res.File)
				switch {
				case res.Removed:
					fmt.Fprintln(w, "Removed from the running Grafana (no restart).")
				case res.Note != "":
					fmt.Fprintf(w, "Grafana: %s.\n", res.Note)
				case res.Running:
					fmt.Fprintln(w, "Deleted from the running Grafana's files.")
				default:
					fmt.Fprintln(w, "The stack is not running: Grafana no longer gets it at the next `llmmon up`.")
				}
				return nil
			})
		},
	}
}
