package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newDashboardsCmd(a *app) *cobra.Command {
	var output output
	c := &cobra.Command{
		Use:   "dashboards",
		Short: "List the imported dashboards (uid, title, file, size)",
		Example: `  llmmon dashboards
  llmmon dashboards -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			list, err := a.engine().Dashboards(s)
			if err != nil {
				return err
			}
			if output.JSON() {
				if list == nil {
					list = []stack.ImportedDashboard{}
				}
				return writeJSON(a.streams.Out, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(a.streams.ErrOut, "No dashboard is imported; llmmon import-dashboard adds one.")
				return nil
			}
			tw := tabwriter.NewWriter(a.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "UID\tTITLE\tFILE\tSIZE")
			for _, d := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(d.UID), dash(d.Title), d.File, size(d.Size))
			}
			return tw.Flush()
		},
	}
	addOutputFlag(c, &output)
	return c
}

// size writes a byte count for people: 812 B, 36 KiB, 1.2 MiB.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", (n+1<<9)>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))

}
