package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newStatusCmd(a *app) *cobra.Command {
	var output output
	c := &cobra.Command{
		Use:   "status",
		Short: "Show components, scrape targets, receivers and firing alerts; exit 1 when anything is unhealthy",
		Example: `  llmmon status
  llmmon status -o json | jq '.targets[] | select(.health != "up")'
  llmmon status >/dev/null || echo "monitoring needs attention"   # from cron`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				st, err := e.Status(cmd.Context(), s)
				if err != nil {
					return err
				}
				if err := output.print(a.streams.Out, st, func(w io.Writer) { printStatus(w, st) }); err != nil {
					return err
				}
				if !st.Healthy {
					return exitError{fmt.Errorf("stack %q is not healthy", s.Name), ExitFailure}
				}
				return nil
			})
		},
	}
	addOutputFlag(c, &output)
	return c
}

func printStatus(out io.Writer, st *stack.Status) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tSTATE\tHEALTH\tUPTIME\tRESTARTS\tADDRESS\tIMAGE")
	for _, c := range st.Components {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", c.Component, c.State, c.Health, dash(c.Uptime), c.RestartCount, c.Address, c.Image)
	}
	w.Flush()
	fmt.Fprintln(out)
	if st.TargetsError != "" {
		fmt.Fprintf(out, "Targets: %s.\n\n", st.TargetsError)
	} else {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "JOB\tTARGET\tINSTANCE\tHEALTH\tLAST ERROR")
		for _, t := range st.Targets {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Job, dash(t.Target), t.Instance, t.Health, dash(t.LastError))
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	if len(st.Blind) > 0 {
		fmt.Fprintf(out, "Blind: %s %s up but feed no llmmon series, so their dashboards show only \"up\"; `llmmon doctor` says why.\n\n",
			strings.Join(st.Blind, ", "), map[bool]string{true: "is", false: "are"}[len(st.Blind) == 1])
	}
	if st.GPU != "" {
		fmt.Fprintf(out, "GPU metrics: %s.\n\n", st.GPU)
	}
	if st.HostsError != "" {
		fmt.Fprintf(out, "Hosts: %s.\n\n", st.HostsError)
	} else if len(st.Hosts) > 0 {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "HOST\tLAST SAMPLE\tTARGETS UP\tHEALTH")
		for _, h := range st.Hosts {
			fmt.Fprintf(w, "%s\t%s ago\t%d of %d\t%s\n", h.Host, time.Since(h.LastSample).Truncate(time.Second), h.TargetsUp, h.Targets, h.Health)
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	if st.RemoteWriteError != "" {
		fmt.Fprintf(out, "Remote write: %s.\n\n", st.RemoteWriteError)
	} else if len(st.RemoteWrite) > 0 {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "REMOTE WRITE\tURL\tSENT\tFAILED\tPENDING\tBEHIND\tHEALTH")
		for _, q := range st.RemoteWrite {
			fmt.Fprintf(w, "%s\t%s\t%.0f\t%.0f\t%.0f\t%s\t%s\n", q.Name, q.URL, q.Sent, q.Failed, q.Pending, time.Duration(q.Behind)*time.Second, q.Health)
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	if st.ReceiversError != "" {
		fmt.Fprintf(out, "Receivers: %s.\n\n", st.ReceiversError)
	} else if len(st.Receivers) > 0 {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "RECEIVER\tKIND\tSENT\tFAILED\tPENDING\tLAST ERROR")
		for _, r := range st.Receivers {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", r.Name, r.Kind, r.Sent, r.Failed, r.Pending, dash(r.LastError))
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	if st.RemediationError != "" {
		fmt.Fprintf(out, "Auto-recovery: %s.\n\n", st.RemediationError)
	} else if len(st.Remediation) > 0 {
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "AUTO-RECOVERY\tACTION\tIN WINDOW\tLAST")
		for _, r := range st.Remediation {
			last := "-"
			if l := r.Last; l != nil {
				last = fmt.Sprintf("%s %s: %s", l.Time.Local().Format("2006-01-02 15:04:05"), l.Result, l.Detail)
			}
			what := r.What
			if r.DryRun {
				what += " (dry run)"
			}
			fmt.Fprintf(w, "%s\t%s\t%d of %d in %s\t%s\n", r.Target, what, r.InWindow, r.MaxActions, r.Window, last)
		}
		w.Flush()
		fmt.Fprintln(out)
	}
	if st.AlertsError != "" {
		fmt.Fprintf(out, "Alerts: %s.\n", st.AlertsError)
		return
	}
	if len(st.Alerts) == 0 {
		fmt.Fprintln(out, "No alerts firing.")
		return
	}
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ALERT\tSTATE\tSEVERITY\tTARGET\tSUMMARY")
	for _, a := range st.Alerts {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Name, a.State, a.Severity, dash(a.Target), a.Summary)
	}
	w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
