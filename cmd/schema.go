package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/spec"
)

func newSchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the spec, for editor completion and checking",
		Example: `  llmmon schema > llmmon.schema.json
  # then, at the top of llmmon.yaml (VS Code YAML extension):
  # yaml-language-server: $schema=./llmmon.schema.json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := spec.Schema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.streams.Out, "%s\n", data)
			return err
		},
	}
}
