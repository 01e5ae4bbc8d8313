package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newTargetsCmd(a *app) *cobra.Command {
	var output output
	c := &cobra.Command{
		Use:   "targets",
		Short: "List the model services with their engine and scrape state",
		Example: `  llmmon targets
  llmmon targets -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				rows, lerr := e.TargetList(cmd.Context(), s)
				if output.JSON() {
					return writeJSON(a.streams.Out, rows)
				}
				if len(rows) == 0 {
					fmt.Fprintln(a.streams.ErrOut, "The spec has no model service: add one with `llmmon add-target NAME URL`.")
					return nil
				}
				w := tabwriter.NewWriter(a.streams.Out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "NAME\tENGINE\tURL\tHEALTH\tLAST ERROR")
				for _, r := range rows {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Engine, r.URL, r.Health, dash(r.LastError))
				}
				w.Flush()
				if lerr != nil {
					fmt.Fprintf(a.streams.ErrOut, "note: %v\n", lerr)
				}
				return nil
			})
		},
	}
	addOutputFlag(c, &output)
	return c
}
