// Package configs holds gatewayd's configuration: the YAML file users edit
// (gatewayd.yaml, embedded as the built-in default so the two never
// drift), its strict loader, and its conversion to the plain runtime values
// the gateway and gpio packages take.
package configs

import _ "embed"

// DefaultYAML is configs/gatewayd.yaml, the configuration gatewayd runs on
// without -config.
//
//go:embed gatewayd.yaml
var DefaultYAML []byte

// DefaultName is how errors in DefaultYAML name their file.
const DefaultName = "(built-in default configs/gatewayd.yaml)"
