package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/spec"
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
			// Loaded without secrets (see withoutSecrets): the only one this command can use is
			// Grafana's admin password, to push the dashboard; without it, it is kept for the
			// next `up` and not pushed.
			s, src, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			noPassword := grafanaPasswordUnavailable(s, src)
			run := func(e *stack.Engine) error {
				res, err := e.ImportDashboard(cmd.Context(), s, args[0], stack.ImportOptions{Folder: folder})
				if err != nil {
					return err
				}
				w := a.streams.ErrOut
				fmt.Fprintf(w, "Imported %q (uid %s) from %s: %d datasource reference(s) bound to llmmon's datasource.\n", res.Title, res.UID, res.Origin, res.Replaced)
				fmt.Fprintf(w, "Kept in %s; `llmmon up` keeps it provisioned.\n", res.File)
				switch {
				case res.Pushed:
					fmt.Fprintln(w, "Pushed to the running Grafana.")
				case noPassword != "":
					fmt.Fprintf(w, "Not pushed to a running Grafana: %s. Grafana gets it at the next `llmmon up`; or set it and import again to push it now.\n", noPassword)
				default:
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
			}
			if noPassword != "" {
				// Pushing needs the password: keep the dashboard without touching Grafana.
				return run(a.engine())
			}
			return a.withRuntime(cmd, run)
		},
	}
	c.Flags().StringVar(&folder, "folder", "Imported", "Grafana folder title")
	return c
}

// grafanaPasswordUnavailable says why the spec's Grafana admin password is not at hand (a
// variable that is not set, a file that cannot be read), or "" when it is or when llmmon
// generated it (then it is in the data directory).
func grafanaPasswordUnavailable(s *spec.Spec, src *spec.Source) string {
	if s.Grafana.AdminPassword != "" {
		return ""
	}
	if v := src.UnsetVariable("grafana.admin_password"); v != "" {
		return fmt.Sprintf("grafana.admin_password names the environment variable %s, which is not set", v)
	}
	if f := s.Grafana.AdminPasswordFile; f != "" {
		return fmt.Sprintf("grafana.admin_password_file %s cannot be read", f)
	}
	return ""
}
