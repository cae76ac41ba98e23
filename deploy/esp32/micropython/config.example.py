# Copy to config.py, fill in, and copy to the board with mpremote (see ../README.md).
# config.py holds your Wi-Fi password (and, with TLS, the board's private
# key): it is in .gitignore, never commit it.

WIFI_SSID = "your-ssid"
WIFI_PASSWORD = "your-wifi-password"

# The Raspberry Pi running gatewayd, and the port from `listen:` in its
# gatewayd.yaml (which must listen on the LAN, e.g. "0.0.0.0:65432").
# GATEWAY_HOST = "" resolves MDNS_HOST + ".local" instead (mDNS).
GATEWAY_HOST = "192.168.1.50"
GATEWAY_PORT = 65432
MDNS_HOST = "raspberrypi"

# Optional: the ID in the board's hello (default esp32- and the MAC) and its
# token, when the gateway's tokens_file lists one.
# BOARD_ID = "greenhouse-1"
# BOARD_TOKEN = "s3cret"

# Optional, TLS: paste the lines `gatewayctl pki board DIR ID` prints for
# config.py here (GATEWAY_TLS, GATEWAY_CA_PEM, BOARD_ID, CLIENT_CERT_PEM,
# CLIENT_KEY_PEM). GATEWAY_HOST must be a name or address in the gateway's
# certificate.
# GATEWAY_TLS = True
# GATEWAY_CA_PEM = """-----BEGIN CERTIFICATE-----
# ...
# -----END CERTIFICATE-----
# """

INTERVAL = 5  # seconds between data lines
OUTBOX_LINES = 32  # lines kept without a receipt
READ_TIMEOUT = 10  # seconds a receipt, !ok or !pong may take
PING_IDLE = 15  # seconds of silence before !ping; 0 = never
BACKOFF_MIN = 0.5  # first reconnect delay, seconds
BACKOFF_MAX = 30  # reconnect delay cap, seconds
WATCHDOG = 60  # seconds without progress before the watchdog resets the board; 0 = off

LED_PIN = 2  # on-board LED GPIO (2 on most ESP32 DevKits); None for no LED
LED_ACTIVE_LOW = False
