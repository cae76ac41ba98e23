# gatewayd echo client for MicroPython on ESP32 boards; also runs unchanged
# under CPython 3 (that is how CI tests it against a real gatewayd).
#
# Every INTERVAL seconds it sends one line such as
#     esp32-AABBCCDDEEFF seq=42 uptime_ms=123456 rssi=-61\n
# reads until the same number of bytes has come back (gatewayd's default
# `framing: raw` may return a line in several pieces), and checks that the
# echo is byte-for-byte what was sent. A mismatch, a read timeout, EOF or any
# socket error closes the connection; it is then opened again with exponential
# backoff and jitter, and the message whose echo was not verified is sent again
# with the same seq. When Wi-Fi drops (on a board) it is joined again the same way.
#
# On a board: copy this file, main.py and config.py (from config.example.py)
# with mpremote; see ../README.md.
# Under CPython:
#     python3 gatewayd_client.py --host 127.0.0.1 --port 65432 --interval 0.1 --count 50
# prints one line per verified echo and a summary, and exits 0 only if `count`
# messages were verified with no mismatch (1 otherwise, 2 on a usage error).
#
# Keep to what MicroPython supports: no f-strings, no dataclasses, no argparse,
# no typing; only the socket API for the network.

import sys
import time
import socket

try:
    import errno
except ImportError:  # very small MicroPython builds
    errno = None

try:
    import os
except ImportError:
    os = None

try:
    import network  # MicroPython on a board with Wi-Fi
    import machine

    ON_BOARD = True
except ImportError:
    network = None
    machine = None
    ON_BOARD = False

VERSION = "1"

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 65432,
    "interval": 5.0,  # seconds between messages
    "count": 0,  # messages to verify before stopping; 0 = run forever
    "read_timeout": 5.0,  # seconds to wait for the whole echo
    "connect_timeout": 5.0,
    "backoff_min": 0.5,  # first retry delay, seconds
    "backoff_max": 30.0,  # cap of the retry delay, seconds
    "keepalive_idle": 15,  # TCP keepalive: idle seconds before the first probe
    "keepalive_interval": 5,  # seconds between probes
    "keepalive_count": 3,  # unanswered probes before the connection is dropped
    "board_id": "",  # default: esp32-<MAC> on a board, py-<node id> elsewhere
    "wifi_ssid": "",
    "wifi_password": "",
    "wifi_timeout": 20.0,
    "led_pin": 2,  # on-board LED GPIO (2 on most ESP32 DevKits); None = no LED
    "led_active_low": False,
    "quiet": False,  # CPython: no line per verified echo
}

# ---------------------------------------------------------------- time


if hasattr(time, "ticks_ms"):
    # MicroPython: ticks wrap around, so only ever use differences.
    def _ticks():
        return time.ticks_ms()

    def _ticks_since(t0):
        return time.ticks_diff(time.ticks_ms(), t0)

    def sleep_ms(ms):
        time.sleep_ms(int(ms))

else:

    def _ticks():
        return int(time.monotonic() * 1000)

    def _ticks_since(t0):
        return _ticks() - t0

    def sleep_ms(ms):
        time.sleep(ms / 1000.0)


class Uptime:
    """Milliseconds since start that do not wrap (MicroPython ticks do)."""

    def __init__(self):
        self._last = _ticks()
        self._total = 0

    def ms(self):
        now = _ticks()
        if hasattr(time, "ticks_diff"):
            self._total += time.ticks_diff(now, self._last)
        else:
            self._total += now - self._last
        self._last = now
        return self._total


def random_below(n):
    """A random integer in [0, n) for the backoff jitter."""
    n = int(n)
    if n <= 0:
        return 0
    r = None
    if os is not None and hasattr(os, "urandom"):
        try:
            b = os.urandom(4)
            r = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]
        except Exception:
            r = None
    if r is None:
        r = (_ticks() * 1103515245 + 12345) & 0x7FFFFFFF
    return r % n


class Backoff:
    """Exponential backoff with "equal jitter": the n-th delay is uniformly
    random in [d/2, d) where d = min(max, min * 2**n)."""

    def __init__(self, min_s, max_s):
        self.min_ms = max(1, int(min_s * 1000))
        self.max_ms = max(self.min_ms, int(max_s * 1000))
        self.attempt = 0

    def next_ms(self):
        d = self.min_ms
        i = 0
        while i < self.attempt and d < self.max_ms:
            d *= 2
            i += 1
        if d > self.max_ms:
            d = self.max_ms
        self.attempt += 1
        half = d // 2
        return half + random_below(d - half)

    def reset(self):
        self.attempt = 0


# ---------------------------------------------------------------- output


def log(msg):
    print(msg)
    try:
        sys.stdout.flush()
    except Exception:
        pass


# ---------------------------------------------------------------- LED

# Blink patterns: milliseconds on, off, on, off, ... repeated.
PATTERNS = {
    "wifi": (100, 100),  # joining Wi-Fi: fast blink
    "connecting": (500, 500),  # connecting to the gateway: slow blink
    "backoff": (100, 150, 100, 650),  # waiting to retry: double blink
    "online": (1000,),  # connected and echoing: steady on
    "mismatch": (50, 50),  # echo mismatch seen: very fast blink until reconnect
    "stopped": (0, 1000),  # off
}


class StatusLED:
    """The on-board LED, or nothing where there is none (CPython)."""

    def __init__(self, pin, active_low):
        self.pin = None
        self.active_low = active_low
        self.pattern = PATTERNS["stopped"]
        self.t0 = _ticks()
        self.lit = None
        if machine is not None and pin is not None:
            try:
                self.pin = machine.Pin(pin, machine.Pin.OUT)
            except Exception as e:
                log("led: GPIO %s not usable (%s); continuing without LED" % (pin, e))
                self.pin = None
        self._write(False)

    def set(self, state):
        p = PATTERNS[state]
        if p is not self.pattern:
            self.pattern = p
            self.t0 = _ticks()
            self.tick()

    def flash(self):
        """A short dark blip on the steady 'online' light: one verified echo."""
        if self.pin is not None and self.pattern is PATTERNS["online"]:
            self._write(False)
            sleep_ms(40)
            self._write(True)

    def tick(self):
        if self.pin is None:
            return
        total = 0
        for d in self.pattern:
            total += d
        pos = _ticks_since(self.t0) % total
        on = False
        i = 0
        for d in self.pattern:
            if pos < d:
                on = i % 2 == 0
                break
            pos -= d
            i += 1
        self._write(on)

    def _write(self, on):
        if self.pin is None or on == self.lit:
            return
        self.lit = on
        self.pin.value(0 if on == self.active_low else 1)

    def wait_ms(self, ms):
        """Sleep while keeping the blink pattern going."""
        t0 = _ticks()
        while True:
            left = ms - _ticks_since(t0)
            if left <= 0:
                return
            self.tick()
            sleep_ms(min(left, 20) if self.pin is not None else left)


# ---------------------------------------------------------------- Wi-Fi


class WiFi:
    """Station-mode Wi-Fi on a board; a no-op elsewhere."""

    def __init__(self, cfg, led):
        self.cfg = cfg
        self.led = led
        self.wlan = None
        if network is not None:
            self.wlan = network.WLAN(network.STA_IF)

    def connected(self):
        return self.wlan is None or self.wlan.isconnected()

    def rssi(self):
        if self.wlan is None:
            return None
        try:
            return self.wlan.status("rssi")
        except Exception:
            return None

    def join(self):
        """Join the configured network; True once connected."""
        if self.connected():
            return True
        self.led.set("wifi")
        ssid = self.cfg["wifi_ssid"]
        if not ssid:
            log("wifi: no SSID configured (set WIFI_SSID in config.py)")
            return False
        log("state=wifi-joining ssid=%s" % ssid)
        self.wlan.active(True)
        try:
            self.wlan.disconnect()
        except Exception:
            pass
        try:
            self.wlan.connect(ssid, self.cfg["wifi_password"])
        except Exception as e:
            log("wifi: connect failed: %s" % e)
            return False
        t0 = _ticks()
        limit = int(self.cfg["wifi_timeout"] * 1000)
        while not self.wlan.isconnected():
            if _ticks_since(t0) > limit:
                log("wifi: not connected after %d ms (status %s)" % (limit, self.wlan.status()))
                return False
            self.led.wait_ms(100)
        log("state=wifi-up ip=%s rssi=%s" % (self.wlan.ifconfig()[0], self.rssi()))
        return True


# ---------------------------------------------------------------- board id


def default_board_id():
    if machine is not None and hasattr(machine, "unique_id"):
        uid = machine.unique_id()  # the base MAC on an ESP32
        h = ""
        for b in uid:
            h += "%02X" % b
        return "esp32-" + h
    try:
        import uuid  # CPython only

        return "py-%012X" % uuid.getnode()
    except ImportError:
        return "py-unknown"


# ---------------------------------------------------------------- socket


class ConnectionFailed(Exception):
    pass


class EchoMismatch(Exception):
    pass


def _is_timeout(e):
    t = getattr(socket, "timeout", None)
    if t is not None and isinstance(e, t):
        return True
    code = e.args[0] if e.args else None
    codes = [110, 116]  # ETIMEDOUT on Linux, on ESP-IDF (newlib)
    if errno is not None:
        for name in ("ETIMEDOUT", "EAGAIN", "EWOULDBLOCK"):
            if hasattr(errno, name):
                codes.append(getattr(errno, name))
    return code in codes


def set_keepalive(sock, cfg):
    """TCP keepalive where the socket module offers it. MicroPython's ESP32
    port does not (its setsockopt only knows a few options), so there the read
    timeout and the echo check are what find a dead connection."""
    ka = getattr(socket, "SO_KEEPALIVE", None)
    sol = getattr(socket, "SOL_SOCKET", None)
    if ka is None or sol is None:
        return "unsupported"
    try:
        sock.setsockopt(sol, ka, 1)
    except OSError as e:
        return "failed (%s)" % e
    done = ["on"]
    tcp = getattr(socket, "IPPROTO_TCP", None)
    for name, key in (
        ("TCP_KEEPIDLE", "keepalive_idle"),
        ("TCP_KEEPINTVL", "keepalive_interval"),
        ("TCP_KEEPCNT", "keepalive_count"),
    ):
        opt = getattr(socket, name, None)
        if tcp is None or opt is None:
            continue
        try:
            sock.setsockopt(tcp, opt, int(cfg[key]))
            done.append("%s=%d" % (name[4:].lower(), int(cfg[key])))
        except OSError:
            pass
    return ",".join(done)


def open_connection(cfg):
    host, port = cfg["host"], int(cfg["port"])
    try:
        # Two arguments only: MicroPython ports differ in what else they take.
        ai = socket.getaddrinfo(host, port)[0]
    except OSError as e:
        raise ConnectionFailed("resolve %s: %s" % (host, e))
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        s.settimeout(cfg["connect_timeout"])
        s.connect(ai[-1])
    except OSError as e:
        s.close()
        raise ConnectionFailed("connect %s:%d: %s" % (host, port, _reason(e)))
    ka = set_keepalive(s, cfg)
    return s, ka


def _reason(e):
    if _is_timeout(e):
        return "timed out"
    code = e.args[0] if e.args else None
    if errno is not None and isinstance(code, int):
        names = getattr(errno, "errorcode", None)
        if names and code in names:
            return names[code]
    return str(e)


def send_all(sock, data):
    if hasattr(sock, "sendall"):
        sock.sendall(data)
        return
    view = memoryview(data)
    while len(view):
        n = sock.send(view)
        view = view[n:]


def read_echo(sock, expected, timeout_s, led):
    """Read exactly len(expected) bytes (as many reads as it takes) and
    compare them to expected. Raises ConnectionFailed or EchoMismatch."""
    got = b""
    t0 = _ticks()
    limit = int(timeout_s * 1000)
    while len(got) < len(expected):
        left = limit - _ticks_since(t0)
        if left <= 0:
            raise ConnectionFailed(
                "read timeout: %d of %d bytes echoed in %d ms" % (len(got), len(expected), limit)
            )
        # Short reads keep the LED pattern going on a board.
        sock.settimeout(min(left, 200) / 1000.0)
        try:
            chunk = sock.recv(len(expected) - len(got))
        except OSError as e:
            if _is_timeout(e):
                led.tick()
                continue
            raise ConnectionFailed("read: %s" % _reason(e))
        if not chunk:
            raise ConnectionFailed(
                "connection closed by the gateway (EOF) after %d of %d bytes" % (len(got), len(expected))
            )
        got += chunk
        # Check as we go: a wrong first byte is already a mismatch.
        if got != expected[: len(got)]:
            raise EchoMismatch("sent %r, got back %r" % (expected, got))
    return got


# ---------------------------------------------------------------- client


class Client:
    def __init__(self, cfg):
        self.cfg = cfg
        self.led = StatusLED(cfg["led_pin"], cfg["led_active_low"])
        self.wifi = WiFi(cfg, self.led)
        self.board_id = cfg["board_id"] or default_board_id()
        self.uptime = Uptime()
        self.seq = 0  # seq of the next message to verify
        self.sent = 0
        self.verified = 0
        self.mismatches = 0
        self.failures = 0
        self.reconnects = 0
        self.connections = 0
        self.backoff = Backoff(cfg["backoff_min"], cfg["backoff_max"])

    def payload(self):
        line = "%s seq=%d uptime_ms=%d" % (self.board_id, self.seq, self.uptime.ms())
        rssi = self.wifi.rssi()
        if rssi is not None:
            line += " rssi=%d" % rssi
        return (line + "\n").encode()

    def done(self):
        return self.cfg["count"] > 0 and self.verified >= self.cfg["count"]

    def wait_before_retry(self, why):
        self.failures += 1
        delay = self.backoff.next_ms()
        log("reconnecting in %d ms (attempt %d): %s" % (delay, self.backoff.attempt, why))
        self.led.set("backoff")
        self.led.wait_ms(delay)

    def run(self):
        log(
            "gatewayd_client %s board=%s gateway=%s:%d interval=%ss count=%d"
            % (VERSION, self.board_id, self.cfg["host"], int(self.cfg["port"]), self.cfg["interval"], self.cfg["count"])
        )
        t0 = _ticks()
        while not self.done():
            if not self.wifi.join():
                self.wait_before_retry("wifi not connected")
                continue
            self.led.set("connecting")
            log("state=connecting gateway=%s:%d" % (self.cfg["host"], int(self.cfg["port"])))
            try:
                sock, ka = open_connection(self.cfg)
            except ConnectionFailed as e:
                self.wait_before_retry(str(e))
                continue
            self.connections += 1
            if self.connections > 1:
                self.reconnects += 1
            log("state=online keepalive=%s read_timeout=%ss" % (ka, self.cfg["read_timeout"]))
            self.led.set("online")
            try:
                self.session(sock)
            except ConnectionFailed as e:
                self.wait_before_retry(str(e))
            except EchoMismatch as e:
                self.mismatches += 1
                log("echo mismatch seq=%d: %s" % (self.seq, e))
                self.led.set("mismatch")
                self.led.wait_ms(1000)
                self.wait_before_retry("echo mismatch, restarting the connection")
            finally:
                try:
                    sock.close()
                except OSError:
                    pass
        self.led.set("stopped")
        elapsed = _ticks_since(t0)
        log(
            "summary: verified=%d/%d sent=%d mismatches=%d failures=%d reconnects=%d elapsed_ms=%d"
            % (self.verified, self.cfg["count"], self.sent, self.mismatches, self.failures, self.reconnects, elapsed)
        )
        return self.done() and self.mismatches == 0

    def session(self, sock):
        interval_ms = int(self.cfg["interval"] * 1000)
        while not self.done():
            if not self.wifi.connected():
                raise ConnectionFailed("wifi lost")
            msg = self.payload()
            t_send = _ticks()
            try:
                send_all(sock, msg)
            except OSError as e:
                raise ConnectionFailed("write: %s" % _reason(e))
            self.sent += 1
            read_echo(sock, msg, self.cfg["read_timeout"], self.led)
            rtt = _ticks_since(t_send)
            self.verified += 1
            self.backoff.reset()
            if not self.cfg["quiet"]:
                log("echo ok seq=%d bytes=%d rtt_ms=%d" % (self.seq, len(msg), rtt))
            self.led.flash()
            self.seq += 1
            if self.done():
                return
            left = interval_ms - _ticks_since(t_send)
            if left > 0:
                self.led.wait_ms(left)


# ---------------------------------------------------------------- config

USAGE = """usage: python3 gatewayd_client.py [options]
  --host HOST            gateway address (env GATEWAYD_HOST, default 127.0.0.1)
  --port PORT            gateway port (env GATEWAYD_PORT, default 65432)
  --interval SECONDS     time between messages (env GATEWAYD_INTERVAL, default 5)
  --count N              stop after N verified echoes; 0 = forever (env GATEWAYD_COUNT)
  --read-timeout SECONDS wait this long for a whole echo (default 5)
  --backoff-min SECONDS  first reconnect delay (default 0.5)
  --backoff-max SECONDS  reconnect delay cap (default 30)
  --id NAME              board id in the payload (default py-<node id>)
  --quiet                no line per verified echo
exit status: 0 when COUNT echoes were verified with no mismatch, 1 otherwise,
2 on a usage error"""

_FLAGS = {
    "--host": ("host", str),
    "--port": ("port", int),
    "--interval": ("interval", float),
    "--count": ("count", int),
    "--read-timeout": ("read_timeout", float),
    "--connect-timeout": ("connect_timeout", float),
    "--backoff-min": ("backoff_min", float),
    "--backoff-max": ("backoff_max", float),
    "--id": ("board_id", str),
}

_ENV = {
    "GATEWAYD_HOST": ("host", str),
    "GATEWAYD_PORT": ("port", int),
    "GATEWAYD_INTERVAL": ("interval", float),
    "GATEWAYD_COUNT": ("count", int),
}


class UsageError(Exception):
    pass


def config_from_module(cfg, mod):
    """Fill cfg from a config.py on the board (UPPER_CASE names)."""
    for key in DEFAULTS:
        name = key.upper()
        if key in ("host", "port"):
            name = "GATEWAY_" + name
        if hasattr(mod, name):
            cfg[key] = getattr(mod, name)
    return cfg


def config_from_args(cfg, argv, environ):
    for name in _ENV:
        if name in environ and environ[name] != "":
            key, conv = _ENV[name]
            try:
                cfg[key] = conv(environ[name])
            except ValueError:
                raise UsageError("%s=%r is not a valid value" % (name, environ[name]))
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            raise UsageError("")
        if a == "--quiet":
            cfg["quiet"] = True
            i += 1
            continue
        val = None
        if "=" in a and a.split("=", 1)[0] in _FLAGS:
            a, val = a.split("=", 1)
        if a not in _FLAGS:
            raise UsageError("unknown argument %r" % a)
        if val is None:
            if i + 1 >= len(argv):
                raise UsageError("%s needs a value" % a)
            val = argv[i + 1]
            i += 1
        key, conv = _FLAGS[a]
        try:
            cfg[key] = conv(val)
        except ValueError:
            raise UsageError("%s %r is not a valid value" % (a, val))
        i += 1
    if not (0 < int(cfg["port"]) < 65536):
        raise UsageError("port %s out of range" % cfg["port"])
    if cfg["interval"] < 0 or cfg["count"] < 0 or cfg["read_timeout"] <= 0:
        raise UsageError("interval and count must be >= 0, read timeout > 0")
    if cfg["backoff_min"] <= 0 or cfg["backoff_max"] < cfg["backoff_min"]:
        raise UsageError("need 0 < backoff-min <= backoff-max")
    return cfg


def main(argv=None):
    cfg = {}
    for k in DEFAULTS:
        cfg[k] = DEFAULTS[k]
    if ON_BOARD:
        try:
            import config

            config_from_module(cfg, config)
        except ImportError:
            log("no config.py on the board: copy config.example.py to config.py and fill it in")
            return 1
    else:
        if argv is None:
            argv = sys.argv[1:]
        environ = {}
        if os is not None and hasattr(os, "environ"):
            environ = os.environ
        try:
            config_from_args(cfg, argv, environ)
        except UsageError as e:
            if str(e):
                log("gatewayd_client: %s" % e)
            log(USAGE)
            return 2 if str(e) else 0
    client = Client(cfg)
    try:
        ok = client.run()
    except KeyboardInterrupt:
        client.led.set("stopped")
        log(
            "interrupted: verified=%d sent=%d mismatches=%d reconnects=%d"
            % (client.verified, client.sent, client.mismatches, client.reconnects)
        )
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
