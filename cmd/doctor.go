package cmd

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newDoctorCmd(a *app) *cobra.Command {
	var output output
	var all bool
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Say, for every model service, which panels, variables and records have no data and why; exit 1 when any is blind",
		Long: `doctor evaluates every query of the dashboards and every llmmon:* record a model service feeds,
on the running stack's Prometheus, and explains each one without data in words: the metric that
this release of the engine does not expose, a flag the server needs, a mapping a custom app needs.
It also reports each service's series count and scrape time against the timeout. It only reads.`,
		Example: `  llmmon doctor
  llmmon doctor --all             # also list the checks that have data
  llmmon doctor -o json | jq '.targets[] | {target, blind}'`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				r, err := e.Doctor(cmd.Context(), s)
				if err != nil {
					return err
				}
				if err := output.print(a.streams.Out, r, func(w io.Writer) { printDoctor(w, r, all) }); err != nil {
					return err
				}
				if r.Blind > 0 {
					return exitError{fmt.Errorf("%d checks have no data", r.Blind), ExitFailure}
				}
				return nil
			})
		},
	}
	addOutputFlag(c, &output)
	c.Flags().BoolVar(&all, "all", false, "also list the checks that have data")
	return c
}

func printDoctor(out io.Writer, r *stack.DoctorReport, all bool) {
	if len(r.Targets) == 0 {
		fmt.Fprintln(out, "Prometheus scrapes no model service yet: add one with `llmmon add-target`.")
		return
	}
	for i, t := range r.Targets {
		if i > 0 {
			fmt.Fprintln(out)
		}
		state := "up"
		if !t.Up {
			state = "DOWN"
		}
		fmt.Fprintf(out, "%s (%s): %s, %d series, scrape %.2fs of %.0fs; %d of %d checks have data",
			t.Target, t.Engine, state, t.Series, t.Scrape, t.Timeout, t.Checks-t.Blind-t.Absent, t.Checks)
		switch {
		case t.Absent > 0 && t.Engine == "custom":
			fmt.Fprintf(out, ", %d are signals this app does not export", t.Absent)
		case t.Absent > 0:
			fmt.Fprintf(out, ", %d are signals %s never exports", t.Absent, t.Engine)
		}
		fmt.Fprintln(out)
		for _, n := range t.Notes {
			fmt.Fprintf(out, "  ! %s\n", n)
		}
		seen := map[string]bool{}
		for _, f := range t.Findings {
			line := ""
			switch {
			case !f.Data && f.NotExported:
				line = fmt.Sprintf("  n/a %s: %s", f.Name(), f.Why)
			case !f.Data:
				line = fmt.Sprintf("  - %s: %s", f.Name(), f.Why)
			case all:
				line = "  ok " + f.Name()
			}
			if line != "" && !seen[line] {
				seen[line] = true
				fmt.Fprintln(out, strings.TrimRight(line, " "))
			}
		}
	}
}
