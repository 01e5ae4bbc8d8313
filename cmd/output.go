package cmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
)

// output is the -o flag every command with a result has: one value type, checked when the flag
// is parsed, so a wrong value is a usage error (exit 2) before anything runs.
type output string

func (o *output) String() string { return string(*o) }
func (o *output) Type() string   { return "table|json" }
func (o *output) Set(v string) error {
	switch v {
	case outputTable, outputJSON:
		*o = output(v)
	case "text": // alert test's earlier name for the table
		*o = outputTable
	default:
		return fmt.Errorf("use table or json")
	}
	return nil
}

// JSON reports whether the result is to be printed as JSON.
func (o output) JSON() bool { return o == outputJSON }

// addOutputFlag registers -o/--output (table by default) on c.
func addOutputFlag(c *cobra.Command, o *output) {
	*o = outputTable
	c.Flags().VarP(o, "output", "o", "print the result as a table or as JSON")
}

// print writes v as indented JSON with -o json, or calls table.
func (o output) print(w io.Writer, v any, table func(io.Writer)) error {
	if o.JSON() {
		return writeJSON(w, v)
	}
	table(w)
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
