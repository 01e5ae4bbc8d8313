package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newLogsCmd(a *app) *cobra.Command {
	var tail int
	c := &cobra.Command{
		Use:   "logs COMPONENT",
		Short: "Print the last lines of a component's log (prometheus, alertmanager, grafana, relay, ...)",
		Example: `  llmmon logs alertmanager
  llmmon logs relay --tail 20`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("logs takes one COMPONENT (prometheus, alertmanager, grafana, node-exporter, dcgm-exporter, gpu-exporter, relay)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				out, err := e.Logs(cmd.Context(), s, args[0], tail)
				if errors.Is(err, stack.ErrNoSuchComponent) {
					return usageError{err}
				}
				if err != nil {
					return err
				}
				fmt.Fprint(a.streams.Out, out)
				return nil
			})
		},
	}
	c.Flags().IntVar(&tail, "tail", 100, "number of lines")
	return c
}
