package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/spec"
)

func newRemoveTargetCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "remove-target NAME",
		Short:   "Remove a model service from the spec and the running stack, without restarting Prometheus",
		Example: `  llmmon remove-target qwen`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("remove-target takes one NAME")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, _, err := spec.Load(a.flags.file, os.LookupEnv)
			if err != nil {
				return err
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				progress, done := a.progress()
				res, err := e.RemoveTarget(cmd.Context(), a.flags.file, s, args[0], stack.AddTargetOptions{Up: stack.UpOptions{Progress: progress}})
				done()
				if err != nil {
					return err
				}
				fmt.Fprintf(a.streams.ErrOut, "Removed %s from %s", args[0], a.flags.file)
				if res.Running {
					fmt.Fprint(a.streams.ErrOut, " and from the running Prometheus (no restart)")
				}
				fmt.Fprintln(a.streams.ErrOut, ".")
				return nil
			})
		},
	}
}
