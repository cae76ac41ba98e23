package homeassistant

// Class is what Home Assistant is told about a sensor from its key's name.
type Class struct {
	DeviceClass string // a sensor device class of Home Assistant, or ""
	Unit        string // unit_of_measurement, or ""
}

// classes is the one table of keys that say what they measure. A key not
// in it is a plain sensor: no device class, no unit, its value shown as
// sent. Units are those Home Assistant accepts for the device class
// (homeassistant/components/sensor/const.py, DEVICE_CLASS_UNITS).
var classes = map[string]Class{
	"temp":        {"temperature", "°C"},
	"temperature": {"temperature", "°C"},
	"hum":         {"humidity", "%"},
	"humidity":    {"humidity", "%"},
	"rssi":        {"signal_strength", "dBm"},
	"battery":     {"battery", "%"},
	"voltage":     {"voltage", "V"},
	"v":           {"voltage", "V"},
}

// ClassOf returns the device class and unit for key; the zero Class for a
// key the table does not know.
func ClassOf(key string) Class { return classes[key] }
