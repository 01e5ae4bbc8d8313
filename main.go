// Command llmmon gives a host that serves large language models a complete monitoring stack.
package main

import (
	"os"
	_ "time/tzdata" // time zones for alert texts and validation, on hosts without /usr/share/zoneinfo

	"github.com/llmmon/llmmon/cmd"
)

func main() { os.Exit(cmd.Main()) }
