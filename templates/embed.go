// Package templates holds Alertmanager notification templates (*.tmpl). The renderer executes
// each once with [[ ]] delimiters to fill in the spec's language and links, and leaves the
// {{ }} actions for Alertmanager.
package templates

import "embed"

// FS holds the notification templates.
//
//go:embed *.tmpl
var FS embed.FS
