// Package homeassistant turns what boards send into Home Assistant's MQTT
// discovery: the JSON state of a line of KEY=VALUE pairs (state.go), the
// discovery configs of a board and of the gateway (configs.go), with the
// device class and unit that a key's name implies (classes.go), and the
// Publisher that puts them on the broker beside the bridge (publisher.go).
//
// What appears in Home Assistant, with DISCOVERY the discovery prefix, P the
// topic prefix, G the gateway ID and B a board ID:
//   - a device for the gateway (identifiers NODE(G)) with a connectivity
//     binary_sensor from P/G/status;
//   - a device per board (identifiers NODE = G_B, every character outside
//     a-zA-Z0-9_- written as _, because Home Assistant's discovery topic
//     matcher takes only those), name B, sw_version its fw=, via_device the
//     gateway's device;
//   - binary_sensor "connected" (device class connectivity) from P/G/B/status;
//   - a sensor per KEY the board has sent, from P/G/B/state with the value
//     template {{ value_json.KEY }};
//   - a text entity "message" whose command topic is P/G/B/down, so what a
//     user types reaches the board as "!msg TEXT".
//
// Every board entity is available while P/G/status is "online" (Home
// Assistant's default payload_available), so a dead gateway turns its
// boards' entities unavailable rather than leaving stale values.
//
// Configs are retained, so Home Assistant finds them when it starts; they
// are published again when DISCOVERY/status becomes "online", as Home
// Assistant asks of integrations after it restarts, and removed with empty
// retained messages when a board is forgotten.
package homeassistant
