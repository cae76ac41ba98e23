package configs

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Brokers is mqtt.broker as written: one URL, or a list of them, tried in
// turn. Each is checked by parseBroker when the settings are built.
type Brokers []string

// maxBrokers bounds the list; a fleet's failover list is a handful.
const maxBrokers = 16

func (b *Brokers) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		*b = nil
	case n.Kind == yaml.ScalarNode:
		if n.Value == "" {
			*b = nil
		} else {
			*b = Brokers{n.Value}
		}
	case n.Kind == yaml.SequenceNode:
		if len(n.Content) > maxBrokers {
			return fmt.Errorf("a list of %d brokers; at most %d are taken", len(n.Content), maxBrokers)
		}
		list := Brokers{}
		for i, item := range n.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" || item.Value == "" {
				return fmt.Errorf("item %d (line %d): want a URL such as \"mqtt://broker.lan:1883\"", i+1, item.Line)
			}
			list = append(list, item.Value)
		}
		*b = list
	default:
		return fmt.Errorf("want a URL or a list of URLs, such as [mqtt://a:1883, mqtt://b:1883]")
	}
	return nil
}
