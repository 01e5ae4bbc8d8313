package cmd

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/spec"
)

func newReportCmd(a *app) *cobra.Command {
	var output output
	var since string
	var month bool
	c := &cobra.Command{
		Use:   "report",
		Short: "Write the service report of the last week (or month) against the one before",
		Long: `report reads the stack's Prometheus and writes, per model service, uptime, availability (against
its SLO), requests, error rate, p50/p95/p99 latency, time to first token, time per output token,
tokens/s, the queue and KV-cache peaks; per GPU its mean utilisation and memory and temperature
peaks; the alerts that fired and for how long; the auto-recovery decisions. Each figure stands
beside the same figure of the period before, with the change. It is Markdown in the spec's
language (-o json for the figures). Prometheus must hold both periods: a month against the month
before needs prometheus.retention of 60d or more (the default is 15d).`,
		Example: `  llmmon report                   # the last 7 days against the 7 before
  llmmon report --month > november.md
  llmmon report --since 24h -o json`,
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
			r, err := a.engine().Report(cmd.Context(), s, period)
			if err != nil {
				return err
			}
			loc, _ := time.LoadLocation(s.Timezone)
			return output.print(a.streams.Out, r, func(w io.Writer) { w.Write(r.Markdown(s.Language, loc)) })
		},
	}
	c.Flags().StringVar(&since, "since", "7d", "the period: the report covers it up to now, against the same length before")
	c.Flags().BoolVar(&month, "month", false, "the last 30 days against the 30 before")
	c.MarkFlagsMutuallyExclusive("since", "month")
	addOutputFlag(c, &output)
	return c
}
