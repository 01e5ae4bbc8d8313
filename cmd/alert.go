package cmd

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/spec"
)

func newAlertCmd(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "alert",
		Short: "Work with notifications (alert test)",
	}
	c.AddCommand(withoutSecrets(a, newAlertTestCmd(a)))
	return c
}

func newAlertTestCmd(a *app) *cobra.Command {
	var (
		receivers []string
		timeout   time.Duration
		output    output
	)
	c := &cobra.Command{
		Use:   "test",
		Args:  noArgs,
		Short: "Send a test alert to every receiver (or --receiver NAME) and report what each platform answered",
		Long: `alert test sends one synthetic alert per receiver through the running stack: into
Alertmanager, then (for DingTalk and WeCom robots) through llmmon's relay, then to the
platform. For each receiver it reports "delivered", or the platform's error in plain words
(for example "DingTalk 310000: signature or keyword mismatch", "WeCom 93000: invalid webhook
key", or the SMTP server refusing the login). The test alerts are resolved when the test
ends, so a short "resolved" message follows the test message.

Exit status: 0 when every receiver got the alert, 1 otherwise.`,
		Example: `  llmmon alert test
  llmmon alert test --receiver oncall-dingtalk
  llmmon alert test -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				w := a.streams.Out
				opts := stack.AlertTestOptions{Receivers: receivers, Timeout: timeout}
				if !output.JSON() {
					fmt.Fprintf(a.streams.ErrOut, "Sending a test alert to %s (waiting up to %s)...\n", receiverList(receivers), timeout)
					opts.Progress = func(r stack.AlertTestResult) {
						mark := "✓"
						if r.Outcome != stack.OutcomeDelivered {
							mark = "✗"
						}
						line := fmt.Sprintf(" %s %-20s %-10s %s", mark, r.Receiver, r.Kind, r.Outcome)
						if r.Outcome == stack.OutcomeDelivered {
							line += fmt.Sprintf(" in %.1fs", r.After.Seconds())
						}
						if r.Detail != "" {
							line += ": " + r.Detail
						}
						fmt.Fprintln(w, line)
					}
				}
				res, err := e.AlertTest(cmd.Context(), s, opts)
				if errors.Is(err, stack.ErrUnknownReceiver) {
					return usageError{err}
				}
				if errors.Is(err, stack.ErrNoReceivers) {
					return fmt.Errorf("%w: %w", spec.ErrInvalid, err) // the spec is what is wrong: exit 2
				}
				if err != nil {
					return err
				}
				if output.JSON() {
					if err := writeJSON(w, res); err != nil {
						return err
					}
				}
				failed := 0
				for _, r := range res {
					if r.Outcome != stack.OutcomeDelivered {
						failed++
					}
				}
				if failed > 0 {
					return exitError{fmt.Errorf("%d of %d receiver(s) did not get the test alert", failed, len(res)), ExitFailure}
				}
				if !output.JSON() {
					fmt.Fprintf(a.streams.ErrOut, "Every receiver got the test alert.\n")
				}
				return nil
			})
		},
	}
	c.Flags().StringSliceVar(&receivers, "receiver", nil, "receiver to test (repeatable; default: all)")
	c.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for every delivery")
	addOutputFlag(c, &output)
	return c
}

func receiverList(r []string) string {
	if len(r) == 0 {
		return "every receiver"
	}
	return fmt.Sprint(r)
}
