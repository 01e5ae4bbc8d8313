package cmd

import (
	"strings"
	"testing"
)

// Every command with a result takes -o table|json, and refuses anything else before it runs.
func TestOutputFlagIsCheckedEverywhere(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"doctor"}, {"dashboards"}, {"targets"}, {"alert", "test"}} {
		code, _, errOut := runCLI(t, append(args, "-o", "yaml", "-f", "/nonexistent.yaml")...)
		if code != ExitBadInput || !strings.Contains(errOut, `invalid argument "yaml" for "-o, --output" flag: use table or json`) {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
}
