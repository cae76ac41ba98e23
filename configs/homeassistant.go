package configs

// homeAssistant checks mqtt.homeassistant and mqtt.discovery_prefix. Kept
// apart from mqtt(): discovery rides on the bridge but is its own feature.
func (c *Config) homeAssistant(b *builder) (on bool, prefix string) {
	m := c.MQTT
	if err := checkTopicLevels(m.DiscoveryPrefix, true); err != nil {
		b.add("mqtt.discovery_prefix", "%v", err)
	}
	if m.HomeAssistant && len(m.Broker) == 0 {
		b.add("mqtt.homeassistant", "needs the MQTT bridge: set mqtt.broker")
	}
	return m.HomeAssistant, m.DiscoveryPrefix
}
