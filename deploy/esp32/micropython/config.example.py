# Copy to config.py, fill in, and copy to the board with mpremote (see ../README.md).
# config.py holds your Wi-Fi password: it is in .gitignore, never commit it.

WIFI_SSID = "your-ssid"
WIFI_PASSWORD = "your-wifi-password"

# The Raspberry Pi running gatewayd, and the port from `listen:` in its
# gatewayd.yaml (which must listen on the LAN, e.g. "0.0.0.0:65432").
GATEWAY_HOST = "192.168.1.50"
GATEWAY_PORT = 65432

INTERVAL = 5  # seconds between messages
READ_TIMEOUT = 5  # seconds to wait for the whole echo
BACKOFF_MIN = 0.5  # first reconnect delay, seconds
BACKOFF_MAX = 30  # reconnect delay cap, seconds

LED_PIN = 2  # on-board LED GPIO (2 on most ESP32 DevKits); None for no LED
LED_ACTIVE_LOW = False
