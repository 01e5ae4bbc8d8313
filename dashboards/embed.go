// Package dashboards holds llmmon's Grafana dashboards as embedded declarative definitions
// (*.yaml). The renderer builds each into Grafana dashboard JSON with the Grafana Foundation SDK,
// bound to llmmon's datasource uid, so no dashboard ever carries a ${DS_...} placeholder.
package dashboards

import "embed"

// FS holds the dashboard definitions.
//
//go:embed *.yaml
var FS embed.FS
