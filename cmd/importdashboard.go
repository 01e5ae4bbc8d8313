package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/dashimport"
	"github.com/llmmon/llmmon/stack/spec"
)

func newImportDashboardCmd(a *app) *cobra.Command {
	var folder string
	c := &cobra.Command{
		Use:   "import-dashboard SOURCE",
		Short: "Import a Grafana dashboard (file, URL or grafana.com ID) bound to llmmon's datasource",
		Long: fmt.Sprintf(`import-dashboard takes a dashboard JSON file, a URL, or a grafana.com dashboard ID with an
optional revision (12239 or 12239@3), of at most %d MiB. It resolves the dashboard's __inputs
and every ${DS_...} placeholder to llmmon's own datasource itself, so the result works from file
provisioning, gives it a stable uid and keeps it in the data directory, from which every up
provisions it. When the stack runs, it copies the file into Grafana and has Grafana reload its
provisioning, so the dashboard appears at once, without a Grafana restart. It reports the panels
whose queries use metrics that no current target exposes. Imported dashboards go to Grafana's
folder "Imported"; llmmon remove-dashboard removes one.`, dashimport.MaxSize>>20),
		Example: `  llmmon import-dashboard ./vllm-grafana.json
  llmmon import-dashboard 12239            # NVIDIA DCGM dashboard from grafana.com
  llmmon import-dashboard https://example.com/dash.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("import-dashboard takes one SOURCE: a JSON file, a URL or a grafana.com ID")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			// Loaded without secrets (see withoutSecrets): the only one this command can use is
			// Grafana's admin password, to have Grafana reload; without it, the dashboard is kept
			// for the next `up` and Grafana is not touched.
			s, src, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			noPassword := grafanaPasswordUnavailable(s, src)
			run := func(e *stack.Engine) error {
				progress, done := a.progress()
				res, err := e.ImportDashboard(cmd.Context(), s, args[0], stack.ImportOptions{Progress: progress})
				done()
				if err != nil {
					return err
				}
				w := a.streams.ErrOut
				fmt.Fprintf(w, "Imported %q (uid %s) from %s: %d datasource reference(s) bound to llmmon's datasource.\n", res.Title, res.UID, res.Origin, res.Replaced)
				fmt.Fprintf(w, "Kept in %s; `llmmon up` keeps it provisioned.\n", res.File)
				switch {
				case res.Loaded:
					fmt.Fprintln(w, "Loaded into the running Grafana (provisioned from its file, folder \"Imported\").")
				case res.Running:
					fmt.Fprintf(w, "Copied into the running Grafana: %s.\n", res.Note)
				case noPassword != "":
					fmt.Fprintf(w, "Not loaded into a running Grafana: %s. Grafana gets it at the next `llmmon up`; or set it and import again to load it now.\n", noPassword)
				default:
					fmt.Fprintln(w, "The stack is not running: Grafana gets it at the next `llmmon up`.")
				}
				for _, n := range res.SchemaNotes {
					fmt.Fprintf(w, "note: %s\n", n)
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
				// Reloading Grafana needs the password: keep the dashboard without touching Grafana.
				return run(a.engine())
			}
			return a.withRuntime(cmd, run)
		},
	}
	c.Flags().StringVar(&folder, "folder", "Imported", "Grafana folder title")
	_ = c.Flags().MarkDeprecated("folder", "imported dashboards are provisioned from files, into the folder \"Imported\"")
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
