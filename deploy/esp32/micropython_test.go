package esp32

const clientPath = "micropython/gatewayd_client.py"
