package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newDownCmd(a *app) *cobra.Command {
	var volumes, noWait bool
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the stack's containers; data stays unless --volumes",
		Long: `down removes the containers llmmon created for this stack (found by their io.llmmon.project
label, never by name). Prometheus, Grafana and Alertmanager data live in named volumes that
survive down and up; --volumes deletes them too.`,
		Example: `  llmmon down
  llmmon down --volumes   # also delete all collected data`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				progress, done := a.progress()
				removed, err := e.Down(cmd.Context(), s, stack.DownOptions{Volumes: volumes, NoWait: noWait, Waiting: func(holder string) {
					progress(stack.Event{Action: "wait", Detail: holder + " is changing this stack; waiting for it (--no-wait fails at once instead)"})
				}})
				done()
				for _, r := range removed {
					fmt.Fprintf(a.streams.ErrOut, " removed %s\n", r)
				}
				if err != nil {
					return err
				}
				if len(removed) == 0 {
					fmt.Fprintf(a.streams.ErrOut, "Stack %q is not running.\n", s.Name)
				} else if !volumes {
					fmt.Fprintf(a.streams.ErrOut, "Stack %q is down; its data volumes are kept (llmmon down --volumes deletes them).\n", s.Name)
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&volumes, "volumes", false, "also delete the stack's data volumes")
	c.Flags().BoolVar(&noWait, "no-wait", false, "fail at once when another llmmon is changing this stack, instead of waiting")
	return c
}
