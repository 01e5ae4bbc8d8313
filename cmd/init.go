package cmd

import (
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

func newInitCmd(a *app) *cobra.Command {
	var force, accept bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a spec to start from, with the LLM servers found on this host",
		Long: `init probes this host's well-known LLM ports (vLLM 8000, SGLang 30000, TGI and llama.cpp
8080, Triton 8002, LMDeploy 23333), recognises each engine from its metric names and writes
what it found as a commented spec to edit (./llmmon.yaml, or the file named by -f). For an app
of no known engine it shows a targets[].metrics mapping guessed from its metric names, types and
HELP texts, and writes it with --accept.`,
		Example: `  llmmon init && $EDITOR llmmon.yaml && llmmon up`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := a.flags.file
			res, err := stack.Init(cmd.Context(), path, stack.InitOptions{Force: force, Accept: accept})
			if errors.Is(err, stack.ErrExists) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			for _, n := range res.Notes {
				fmt.Fprintf(a.streams.ErrOut, "  - %s\n", n)
			}
			names := make([]string, 0, len(res.Proposals))
			for n := range res.Proposals {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				p := res.Proposals[n]
				if p.Standard == "" {
					fmt.Fprintf(a.streams.ErrOut, "%s serves metrics of no known engine. ", n)
				}
				printProposal(a.streams.ErrOut, p)
				if !res.Written[n] {
					fmt.Fprintln(a.streams.ErrOut, "Not written: run `llmmon init --accept` to write it, or map its metrics by hand.")
				}
			}
			fmt.Fprintf(a.streams.ErrOut, "Wrote %s. Edit it, then run `llmmon up`.\n", path)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	c.Flags().BoolVar(&accept, "accept", false, "write the metrics mapping proposed for apps of no known engine")
	return c
}
