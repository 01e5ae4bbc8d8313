package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newImportDashboardCmd(a *app) *cobra.Command {
	var folder string
	c := &cobra.Command{
		Use:   "import-dashboard SOURCE",
		Short: "Import a Grafana dashboard (file, URL or grafana.com ID) bound to llmmon's datasource",
		Long: `import-dashboard takes a dashboard JSON file, a URL, or a grafana.com dashboard ID with an
optional revision (12239 or 12239@3). It resolves the dashboard's __inputs and every ${DS_...}
placeholder to llmmon's own datasource itself, so the result also works from file provisioning,
gives it a stable uid, keeps it in the data directory so it survives restarts and up, and, when
the stack runs, pushes it into Grafana at once. It reports the panels whose queries use metrics
that no current target exposes.`,
		Example: `  llmmon import-dashboard ./vllm-grafana.json
  llmmon import-dashboard 12239            # NVIDIA DCGM dashboard from grafana.com
  llmmon import-dashboard https://example.com/dash.json --folder Team`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("import-dashboard takes one SOURCE: a JSON file, a URL or a grafana.com ID")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				res, err := e.ImportDashboard(cmd.Context(), s, args[0], stack.ImportOptions{Folder: folder})
				if err != nil {
					return err
				}
				w := a.streams.ErrOut
				fmt.Fprintf(w, "Imported %q (uid %s) from %s: %d datasource reference(s) bound to llmmon's datasource.\n", res.Title, res.UID, res.Origin, res.Replaced)
				fmt.Fprintf(w, "Kept in %s; `llmmon up` keeps it provisioned.\n", res.File)
				if res.Pushed {
					fmt.Fprintln(w, "Pushed to the running Grafana.")
				} else {
					fmt.Fprintln(w, "The stack is not running: Grafana gets it at the next `llmmon up`.")
				}
				for _, p := range res.ParseErrors {
					fmt.Fprintf(w, "warning: a query does not parse: %s\n", p)
				}
				if len(res.Missing) > 0 {
					fmt.Fprintf(w, "%d panel(s) use metrics no current target exposes:\n", len(res.Missing))
					for _, m := range res.Missing {
						fmt.Fprintf(w, "  - %s: %s\n", m.Panel, strings.Join(m.Metrics, ", "))
					}
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&folder, "folder", "Imported", "Grafana folder title")
	return c
}
