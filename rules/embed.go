// Package rules holds llmmon's Prometheus rule packs as embedded assets: recording rules that
// map every engine's own metric names onto common llmmon:* series, and alert definitions whose
// thresholds, language and scope the renderer fills in from the spec.
package rules

import "embed"

// FS holds records/*.yml (recording rules, copied as they are) and alerts/*.yml (alert
// definitions, rendered with the spec's thresholds).
//
//go:embed records/*.yml alerts/*.yml
var FS embed.FS
