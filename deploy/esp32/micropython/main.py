# Runs at boot on a MicroPython board: start the gatewayd client.
# It needs gatewayd_client.py and config.py (from config.example.py) beside it.
import gatewayd_client

gatewayd_client.main()
