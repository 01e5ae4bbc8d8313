package cmd

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/relay"
	"github.com/llmmon/llmmon/stack/report"
	"github.com/llmmon/llmmon/stack/spec"
)

func newReportCmd(a *app) *cobra.Command {
	var output output
	var since, html string
	var month, send bool
	c := &cobra.Command{
		Use:   "report",
		Short: "Write the service report of the last week (or month) against the one before, or send it now",
		Long: `report reads the stack's Prometheus and writes, per model service, uptime, availability (against
its SLO), requests, error rate, p50/p95/p99 latency, time to first token, time per output token,
tokens/s, the queue and KV-cache peaks and the error budget left; per GPU its mean utilisation and
memory and temperature peaks; the alerts that fired and for how long; the auto-recovery
decisions. Each figure stands beside the same figure of the period before, with the change. It
is Markdown in the spec's language (-o json for the figures); --html also writes an HTML page
with plots of requests, errors, latency, tokens/s, GPU utilisation and the error budget, this
period against the one before.

With report: in the spec, the relay sends it on its schedule (email: the HTML page with the
plots; DingTalk and WeCom: a summary with a link to Grafana); --send sends it now the same way.

Prometheus must hold both periods: a month against the month before needs
prometheus.retention of 60d or more (the default is 15d).`,
		Example: `  llmmon report                   # the last 7 days against the 7 before
  llmmon report --month > november.md
  llmmon report --html week.html   # with the plots
  llmmon report --since 24h -o json
  llmmon report --send             # deliver it to the report's receivers now`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			period := 7 * 24 * time.Hour
			if month {
				period = 30 * 24 * time.Hour
			} else if since != "" {
				d, err := spec.ParseDuration(since)
				if err != nil {
					return usageError{err}
				}
				period = d.D()
			}
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			if send {
				res, err := a.engine().SendReport(cmd.Context(), s)
				if err != nil {
					return err
				}
				return printReportResults(a, output, res)
			}
			r, err := a.engine().Report(cmd.Context(), s, period, html != "")
			if err != nil {
				return err
			}
			loc, _ := time.LoadLocation(s.Timezone)
			if html != "" {
				plots, err := r.Render(s.Language, loc)
				if err != nil {
					return err
				}
				if plots.FontNote != "" {
					fmt.Fprintln(a.streams.ErrOut, "note: "+plots.FontNote)
				}
				page, err := r.HTML(s.Language, loc, report.HTMLOptions{Plots: plots})
				if err != nil {
					return err
				}
				if err := os.WriteFile(html, page, 0o644); err != nil {
					return fmt.Errorf("write the HTML report: %w", err)
				}
				fmt.Fprintf(a.streams.ErrOut, "The HTML report with %d plots is in %s\n", len(plots.PNG), html)
			}
			return output.print(a.streams.Out, r, func(w io.Writer) { w.Write(r.Markdown(s.Language, loc)) })
		},
	}
	c.Flags().StringVar(&since, "since", "7d", "the period: the report covers it up to now, against the same length before")
	c.Flags().BoolVar(&month, "month", false, "the last 30 days against the 30 before")
	c.Flags().StringVar(&html, "html", "", "also write the report with its plots as an HTML page to this file")
	c.Flags().BoolVar(&send, "send", false, "have the relay build the report of report.period and deliver it to the report's receivers now")
	c.MarkFlagsMutuallyExclusive("since", "month")
	c.MarkFlagsMutuallyExclusive("send", "html")
	addOutputFlag(c, &output)
	return c
}

func printReportResults(a *app, o output, res []relay.ReportResult) error {
	failed := 0
	err := o.print(a.streams.Out, res, func(w io.Writer) {
		for _, r := range res {
			if r.Error != "" {
				fmt.Fprintf(w, "%-20s %-9s %s: %s\n", r.Receiver, r.Kind, r.Result, r.Error)
			} else {
				fmt.Fprintf(w, "%-20s %-9s %s\n", r.Receiver, r.Kind, r.Result)
			}
		}
	})
	for _, r := range res {
		if r.Result != relay.ReportSent {
			failed++
		}
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return exitError{fmt.Errorf("the report did not reach %d of %d receivers (above: why); the relay's log says more: llmmon logs relay", failed, len(res)), ExitFailure}
	}
	return nil
}
