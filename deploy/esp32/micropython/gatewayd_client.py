# gatewayd client for MicroPython on ESP32 boards; also runs unchanged
# under CPython 3 (that is how CI tests it against a real gatewayd).
#
# It connects (over TLS when GATEWAY_TLS is set) and opens a board session:
#     !hello BOARD_ID [token=BOARD_TOKEN] fw=VERSION
# Every INTERVAL seconds it queues one data line such as
#     seq=42 uptime_ms=123456 rssi=-61
# in the outbox and sends it. The gateway echoes each data line once it is
# safe; that echo is the line's receipt, and only then does the line leave
# the outbox. After a reconnect every line still in the outbox is sent again,
# in order. The outbox is bounded (OUTBOX_LINES); when it is full the client
# logs which line it drops. `!msg PAYLOAD` from the gateway is logged and
# passed to on_message(), the one function meant for you to edit; the
# example switches the LED on `led on` and off on `led off`. A gateway that
# echoes the hello back (framing: raw) does not speak the board protocol:
# the client says so and goes on in plain echo mode. With GATEWAY_HOST ""
# it resolves MDNS_HOST + ".local" (mDNS, as the ESP32 port's getaddrinfo
# does).
#
# On a board: copy this file, main.py and config.py (from config.example.py)
# with mpremote; see ../README.md.
# Under CPython:
#     python3 gatewayd_client.py --host 127.0.0.1 --port 65432 --interval 0.1 --count 50
# prints one line per receipt and a summary, and exits 0 only if `count`
# lines were receipted with no mismatch (1 otherwise, 2 on a usage error).
#
# Keep to what MicroPython supports: no f-strings, no dataclasses, no argparse,
# no typing; only the socket, ssl and select APIs MicroPython 1.22 has. On
# MicroPython a TLS socket is a stream (read/write; no settimeout, recv or
# send before 1.25): the handshake is bounded by the raw socket's timeout,
# and reads and writes wait in select.poll. The gateway's certificate is
# checked (CERT_REQUIRED, against the host name). On a board, main() runs
# the client under machine.WDT with a catch-all that resets the board.
#
# The same shape as the Arduino library: Client(cfg).send(line) queues a
# line (False when the outbox is full), .on_message(cb) sets the !msg
# callback, .run() runs; produce() is the example that sends uptime_ms.

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

VERSION = "2.0.0"

DEFAULTS = {
    "host": "127.0.0.1",
    "port": 65432,
    "interval": 5.0,  # seconds between messages
    "count": 0,  # lines to get receipts for before stopping; 0 = run forever
    "read_timeout": 10.0,  # seconds a receipt, !ok or !pong may take
    "connect_timeout": 5.0,
    "backoff_min": 0.5,  # first retry delay, seconds
    "backoff_max": 30.0,  # cap of the retry delay, seconds
    "keepalive_idle": 15,  # TCP keepalive: idle seconds before the first probe
    "keepalive_interval": 5,  # seconds between probes
    "keepalive_count": 3,  # unanswered probes before the connection is dropped
    "board_id": "",  # default: esp32-<MAC> on a board, py-<node id> elsewhere
    "board_token": "",  # the board's token, when the gateway's tokens_file lists one
    "tls": False,  # GATEWAY_TLS: connect with TLS
    "ca_pem": "",  # GATEWAY_CA_PEM: the CA that signed the gateway's certificate
    "client_cert_pem": "",  # the board's certificate (gatewayctl pki board)
    "client_key_pem": "",  # and its key
    "mdns_host": "raspberrypi",  # with host "": resolve MDNS_HOST.local
    "outbox_lines": 32,  # lines kept without a receipt
    "ping_idle": 15.0,  # seconds of silence before !ping; 0 = never
    "wifi_ssid": "",
    "wifi_password": "",
    "wifi_timeout": 20.0,
    "led_pin": 2,  # on-board LED GPIO (2 on most ESP32 DevKits); None = no LED
    "led_active_low": False,
    "quiet": False,  # CPython: no line per verified echo
    "boot_file": "",  # where the boot counter lives; "" = none (boot=1); on a board /gatewayd_boot
    "watchdog": 60.0,  # board: seconds without progress before machine.WDT resets it; 0 = off
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
    "online": None,  # in a session: the LED is on_message()'s
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
        self.user = False  # the LED in a session, set by on_message()
        if machine is not None and pin is not None:
            try:
                self.pin = machine.Pin(pin, machine.Pin.OUT)
            except Exception as e:
                log("led: GPIO %s not usable (%s); continuing without LED" % (pin, e))
                self.pin = None
        self._write(False)

    def set(self, state):
        p = PATTERNS[state]
        if p is None:
            self.pattern = None
            self._write(self.user)
            return
        if p is not self.pattern:
            self.pattern = p
            self.t0 = _ticks()
            self.tick()

    def user_set(self, on):
        """on_message() lights the LED (or not) while the session is up."""
        self.user = on
        if self.pattern is None:
            self._write(on)

    def tick(self):
        if self.pin is None or self.pattern is None:
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
            feed()
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


# ---------------------------------------------------------------- boot counter


def count_boot(path):
    """Adds one to the boot counter kept in the file path and returns it.
    Lines carry it beside seq, so (board, boot, seq) never repeats across
    restarts. No file: boot 1, as for a run on a PC."""
    if not path:
        return 1
    n = 0
    try:
        with open(path) as f:
            n = int(f.read().strip() or "0")
    except (OSError, ValueError):
        pass
    n += 1
    try:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % n)
        if os is not None and hasattr(os, "rename"):
            os.rename(path + ".tmp", path)
    except OSError as e:
        log("boot counter %s: %s" % (path, _reason(e)))
    return n


# ---------------------------------------------------------------- watchdog

_wdt = None  # machine.WDT on a board (run_on_board), fed wherever the client waits


def feed():
    if _wdt is not None:
        _wdt.feed()


# ---------------------------------------------------------------- your code


def on_message(payload, client):
    """Called with the payload of each `!msg PAYLOAD` the gateway delivers
    (sent with `gatewayctl tell BOARD MESSAGE` or to .../BOARD/down). Edit
    this to make the board do something; keep it short, receipts wait."""
    if payload == "led on":
        client.led.user_set(True)
        log("led on")
    elif payload == "led off":
        client.led.user_set(False)
        log("led off")


# ---------------------------------------------------------------- socket


class ConnectionFailed(Exception):
    pass


MICROPYTHON = getattr(sys, "implementation", None) is not None and sys.implementation.name == "micropython"


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


def _reason(e):
    if _is_timeout(e):
        return "timed out"
    code = e.args[0] if e.args else None
    if errno is not None and isinstance(code, int):
        names = getattr(errno, "errorcode", None)
        if names and code in names:
            return names[code]
    return str(e)


def gateway_host(cfg):
    """The configured host, or MDNS_HOST.local when it is empty."""
    if cfg["host"]:
        return cfg["host"]
    return cfg["mdns_host"] + ".local"


def tls_wrap(sock, cfg, host):
    """TLS with the gateway's CA and, when set, the board's certificate;
    the gateway's certificate is checked against host (CERT_REQUIRED).
    MicroPython's ssl takes the PEM data itself; CPython wants files."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if not cfg["ca_pem"]:
        raise ConnectionFailed("tls: GATEWAY_CA_PEM is not set")
    if MICROPYTHON:
        # Not every MicroPython checks by default (micropython-lib's ssl
        # wrapper starts at CERT_NONE): say so.
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca = cfg["ca_pem"].encode()
        try:
            ctx.load_verify_locations(cadata=ca)  # 1.23 and later
        except TypeError:
            ctx.load_verify_locations(ca)  # 1.22: one positional argument
        if cfg["client_cert_pem"] and cfg["client_key_pem"]:
            ctx.load_cert_chain(cfg["client_cert_pem"].encode(), cfg["client_key_pem"].encode())
    else:
        if hasattr(ssl, "TLSVersion"):
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_verify_locations(cadata=cfg["ca_pem"])
        if cfg["client_cert_pem"] and cfg["client_key_pem"]:
            import tempfile

            with tempfile.TemporaryDirectory() as d:
                cert, key = d + "/board.crt", d + "/board.key"
                with open(cert, "w") as f:
                    f.write(cfg["client_cert_pem"])
                with open(key, "w") as f:
                    f.write(cfg["client_key_pem"])
                ctx.load_cert_chain(cert, key)
    try:
        # The raw socket still has the connect timeout: a gateway that
        # accepts and never answers ends the handshake with ETIMEDOUT.
        return ctx.wrap_socket(sock, server_hostname=host)
    except (OSError, ValueError) as e:  # ssl.SSLError is an OSError; a bad certificate a ValueError on MicroPython
        raise ConnectionFailed("tls: %s" % _reason(e))


def open_connection(cfg):
    host, port = gateway_host(cfg), int(cfg["port"])
    if not cfg["host"]:
        log("mdns: resolving %s" % host)
    try:
        # Two arguments only: MicroPython ports differ in what else they take.
        ai = socket.getaddrinfo(host, port)[0]
    except OSError as e:
        raise ConnectionFailed("resolve %s: %s" % (host, e))
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        s.settimeout(cfg["connect_timeout"])
        s.connect(ai[-1])
        if cfg["tls"]:
            raw = s
            s = tls_wrap(s, cfg, host)
            if MICROPYTHON:
                # From here on reads and writes go through select.poll on the
                # TLS stream, which has no settimeout of its own.
                raw.setblocking(False)
    except OSError as e:
        s.close()
        raise ConnectionFailed("connect %s:%d: %s" % (host, port, _reason(e)))
    except ConnectionFailed:
        s.close()
        raise
    return Stream(s)


class Stream:
    """One connection to the gateway, read and written with timeouts.
    On MicroPython the socket, plain or TLS, is used as a stream (read,
    write; TLS sockets have no recv, send or settimeout before 1.25) and
    waited on with select.poll; under CPython, with recv/sendall and
    settimeout."""

    def __init__(self, sock):
        self.sock = sock
        self.poll = None
        if MICROPYTHON:
            import select

            self.select = select
            self.poll = select.poll()
            self.poll.register(sock, select.POLLIN)
            if hasattr(sock, "setblocking"):
                sock.setblocking(False)

    def close(self):
        self.sock.close()

    def abort(self):
        """After a failed write: end with a reset, not a FIN, so the
        gateway never takes the part of a line that went out for a whole
        line. CPython sets SO_LINGER 0; MicroPython's sockets have no
        SO_LINGER, and the gateway drops a line without its LF."""
        if self.poll is None:
            import struct

            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.close()

    def recv(self, n, timeout_ms):
        """Up to n bytes; None if nothing came within timeout_ms; b"" at
        EOF. Raises OSError on an error."""
        if self.poll is None:
            self.sock.settimeout(timeout_ms / 1000.0)
            try:
                return self.sock.recv(n)
            except OSError as e:
                if _is_timeout(e):
                    return None
                raise
        self.poll.modify(self.sock, self.select.POLLIN)
        for _, ev in self.poll.poll(int(timeout_ms)):
            if ev & (self.select.POLLERR | self.select.POLLHUP) and not ev & self.select.POLLIN:
                return b""
        data = self.sock.read(n)
        return data  # None: nothing there after all (e.g. only a TLS record header)

    def send_all(self, data, timeout_ms):
        if self.poll is None:
            self.sock.settimeout(timeout_ms / 1000.0)
            self.sock.sendall(data)
            return
        view = memoryview(data)
        t0 = _ticks()
        while len(view):
            n = self.sock.write(view)
            if n:
                view = view[n:]
                continue
            left = timeout_ms - _ticks_since(t0)
            if left <= 0:
                raise OSError(110)  # ETIMEDOUT
            self.poll.modify(self.sock, self.select.POLLOUT)
            self.poll.poll(int(min(left, 200)))


class Lines:
    """Splits what the gateway sends into lines. A line longer than
    RX_MAX is skipped to its LF and logged; the session goes on."""

    RX_MAX = 1280

    def __init__(self, stream):
        self.stream = stream
        self.buf = b""
        self.skipping = 0

    def next(self, timeout_ms):
        """One line (without LF, CR dropped), or None if none came within
        timeout_ms. Raises ConnectionFailed at EOF or on an error."""
        t0 = _ticks()
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1 :]
                if self.skipping:
                    log("skipped a line of %d bytes from the gateway: longer than %d" % (self.skipping + i + 1, self.RX_MAX))
                    self.skipping = 0
                    continue
                if line.endswith(b"\r"):
                    line = line[:-1]
                return line
            if len(self.buf) > self.RX_MAX:
                self.skipping += len(self.buf)
                self.buf = b""
            left = timeout_ms - _ticks_since(t0)
            if left <= 0:
                return None
            feed()
            try:
                chunk = self.stream.recv(512, min(left, 200))
            except OSError as e:
                if _is_timeout(e):
                    continue
                raise ConnectionFailed("read: %s" % _reason(e))
            if chunk is None:
                continue
            if not chunk:
                raise ConnectionFailed("connection closed by the gateway (EOF)")
            self.buf += chunk


# ---------------------------------------------------------------- client


class Client:
    def __init__(self, cfg):
        self.cfg = cfg
        self.led = StatusLED(cfg["led_pin"], cfg["led_active_low"])
        self.wifi = WiFi(cfg, self.led)
        self.board_id = cfg["board_id"] or default_board_id()
        self.uptime = Uptime()
        self.outbox = []  # [seq, line, sent_at_ms]: no receipt yet, oldest first
        self.in_flight = 0  # outbox lines written on this connection
        self.sent_once = 0  # outbox lines, from the oldest, written at least once
        self.next_seq = 0
        self.next_line_at = None
        self.receipts = 0
        self.resent = 0
        self.dropped = 0
        self.mismatches = 0
        self.failures = 0
        self.reconnects = 0
        self.connections = 0
        self.echo_mode = False
        self.backoff = Backoff(cfg["backoff_min"], cfg["backoff_max"])
        self.message_cb = on_message
        self.boot = count_boot(cfg["boot_file"])

    def on_message(self, cb):
        """cb(payload, client) is called for each `!msg PAYLOAD`: payload is
        a str, or bytes when it is not UTF-8."""
        self.message_cb = cb

    def send(self, line):
        """Queues line (a str without line breaks) as the next data line.
        False when the outbox is full or the line holds a line break:
        nothing is queued."""
        if "\n" in line or "\r" in line or len(self.outbox) >= self.cfg["outbox_lines"]:
            return False
        seq = self.next_seq
        self.next_seq += 1
        self.outbox.append([seq, ("boot=%d seq=%d %s\n" % (self.boot, seq, line)).encode(), 0])
        return True

    def done(self):
        return self.cfg["count"] > 0 and self.receipts >= self.cfg["count"]

    def produce(self):
        """The example's producer: queue the next data line with send() when
        it is due, online or not. A full outbox takes nothing more."""
        now = self.uptime.ms()
        if self.next_line_at is None:
            self.next_line_at = now
        if now < self.next_line_at:
            return
        self.next_line_at += int(self.cfg["interval"] * 1000)
        if self.next_line_at < now:
            self.next_line_at = now
        if self.cfg["count"] > 0 and self.next_seq >= self.cfg["count"]:
            return
        # The example's data; send() adds seq=. Your own data would go here.
        line = "uptime_ms=%d" % now
        rssi = self.wifi.rssi()
        if rssi is not None:
            line += " rssi=%d" % rssi
        if not self.send(line):
            self.dropped += 1
            log("outbox full (%d lines): line not queued" % len(self.outbox))

    def wait_before_retry(self, why):
        self.failures += 1
        self.in_flight = 0
        delay = self.backoff.next_ms()
        log("reconnecting in %d ms (attempt %d): %s" % (delay, self.backoff.attempt, why))
        self.led.set("backoff")
        t0 = _ticks()
        while _ticks_since(t0) < delay:
            self.produce()
            self.led.wait_ms(min(50, delay - _ticks_since(t0)))

    def run(self):
        log(
            "gatewayd_client %s board=%s gateway=%s:%d tls=%s interval=%ss count=%d outbox=%d lines"
            % (
                VERSION,
                self.board_id,
                self.cfg["host"] or "(mdns)",
                int(self.cfg["port"]),
                "on" if self.cfg["tls"] else "off",
                self.cfg["interval"],
                self.cfg["count"],
                self.cfg["outbox_lines"],
            )
        )
        t0 = _ticks()
        while not self.done():
            feed()
            self.produce()
            if not self.wifi.join():
                self.wait_before_retry("wifi not connected")
                continue
            self.led.set("connecting")
            log("state=connecting gateway=%s:%d" % (gateway_host(self.cfg), int(self.cfg["port"])))
            try:
                sock = open_connection(self.cfg)
            except ConnectionFailed as e:
                self.wait_before_retry(str(e))
                continue
            self.connections += 1
            if self.connections > 1:
                self.reconnects += 1
            try:
                self.session(sock)
            except ConnectionFailed as e:
                self.wait_before_retry(str(e))
            finally:
                try:
                    sock.close()
                except OSError:
                    pass
        self.led.set("stopped")
        elapsed = _ticks_since(t0)
        log(
            "summary: receipts=%d/%d resent=%d dropped=%d mismatches=%d failures=%d reconnects=%d elapsed_ms=%d"
            % (self.receipts, self.cfg["count"], self.resent, self.dropped, self.mismatches, self.failures, self.reconnects, elapsed)
        )
        return self.done() and self.mismatches == 0

    def write(self, sock, data):
        try:
            sock.send_all(data, int(self.cfg["read_timeout"] * 1000))
        except OSError as e:
            sock.abort()
            raise ConnectionFailed("write: %s" % _reason(e))

    def hello(self, sock, lines):
        h = "!hello " + self.board_id
        if self.cfg["board_token"]:
            h += " token=" + self.cfg["board_token"]
        h += " fw=" + VERSION
        self.write(sock, (h + "\n").encode())
        ans = lines.next(int(self.cfg["read_timeout"] * 1000))
        if ans is None:
            raise ConnectionFailed("no answer to the hello within %ss" % self.cfg["read_timeout"])
        try:
            ans = ans.decode()
        except UnicodeError:
            raise ConnectionFailed("hello refused: %r" % ans[:60])
        words = ans.split()
        if len(words) >= 2 and words[0] == "!ok" and words[1] == self.board_id:  # by token: more may follow
            self.echo_mode = False
            log("hello ok: session as %s" % self.board_id)
        elif ans == h:
            self.echo_mode = True
            log("hello echoed back: the gateway does not speak the board protocol; plain echo mode")
        else:
            raise ConnectionFailed("hello refused: %s" % ans)

    def on_line(self, line):
        if self.echo_mode or not line.startswith(b"!"):
            self.on_receipt(line)
            return
        try:
            text = line.decode()
        except UnicodeError:
            # Not UTF-8: pass the bytes on rather than end the client.
            log("msg (not UTF-8): %r" % line[5:65])
            if line.startswith(b"!msg "):
                self.message_cb(line[5:], self)
            return
        if text.startswith("!msg "):
            log("msg: %s" % text[5:])
            self.message_cb(text[5:], self)
        elif text == "!pong":
            self.ping_at = None
        elif text.startswith("!err "):
            log("gateway says: %s" % text)
            if text[5:].startswith("replaced"):
                raise ConnectionFailed("another connection took over board %s" % self.board_id)
        else:
            log("ignored control line: %s" % text[:60])

    def on_receipt(self, line):
        if self.in_flight == 0:
            raise ConnectionFailed("unexpected data line from the gateway: %r" % line[:60])
        seq, want, sent_at = self.outbox[0]
        if line != want[:-1]:
            self.mismatches += 1
            raise ConnectionFailed("receipt MISMATCH for seq=%d: got %r" % (seq, line[:60]))
        self.outbox.pop(0)
        self.in_flight -= 1
        if self.sent_once > 0:
            self.sent_once -= 1
        self.receipts += 1
        self.backoff.reset()
        if not self.cfg["quiet"]:
            log("receipt seq=%d rtt_ms=%d" % (seq, self.uptime.ms() - sent_at))

    def session(self, sock):
        lines = Lines(sock)
        self.in_flight = 0
        self.ping_at = None
        self.hello(sock, lines)
        if self.sent_once > 0:
            self.resent += self.sent_once
            log(
                "resending %d lines that had no receipt, seq=%d..%d"
                % (self.sent_once, self.outbox[0][0], self.outbox[self.sent_once - 1][0])
            )
        if len(self.outbox) > self.sent_once:
            log("sending %d lines queued while offline" % (len(self.outbox) - self.sent_once))
        log("state=online")
        self.led.set("online")
        timeout_ms = int(self.cfg["read_timeout"] * 1000)
        last_rx = self.uptime.ms()
        while not self.done():
            if not self.wifi.connected():
                raise ConnectionFailed("wifi lost")
            self.produce()
            while self.in_flight < len(self.outbox):
                entry = self.outbox[self.in_flight]
                self.write(sock, entry[1])
                entry[2] = self.uptime.ms()
                self.in_flight += 1
                if self.in_flight > self.sent_once:
                    self.sent_once = self.in_flight
            line = lines.next(20)
            now = self.uptime.ms()
            if line is not None:
                last_rx = now
                self.on_line(line)
                continue
            # Something is owed (a receipt or a pong) and nothing came for
            # too long: the gateway or the path to it is gone.
            owed = (self.in_flight > 0 and now - self.outbox[0][2] > timeout_ms) or (
                self.ping_at is not None and now - self.ping_at > timeout_ms
            )
            if owed and now - last_rx > timeout_ms:
                raise ConnectionFailed("nothing from the gateway for %d ms" % (now - last_rx))
            idle = self.cfg["ping_idle"]
            if idle > 0 and not self.echo_mode and self.ping_at is None and now - last_rx > idle * 1000:
                self.write(sock, b"!ping\n")
                self.ping_at = now


# ---------------------------------------------------------------- config

USAGE = """usage: python3 gatewayd_client.py [options]
  --config FILE          read settings from a config.py (as on a board) first
  --host HOST            gateway address; "" = MDNS_HOST.local (env GATEWAYD_HOST, default 127.0.0.1)
  --port PORT            gateway port (env GATEWAYD_PORT, default 65432)
  --interval SECONDS     time between data lines (env GATEWAYD_INTERVAL, default 5)
  --count N              stop after N receipts; 0 = forever (env GATEWAYD_COUNT)
  --read-timeout SECONDS a receipt, !ok or !pong may take this long (default 10)
  --backoff-min SECONDS  first reconnect delay (default 0.5)
  --backoff-max SECONDS  reconnect delay cap (default 30)
  --id NAME              board ID in the hello (default py-<node id>)
  --token TOKEN          the board's token
  --outbox-lines N       lines kept without a receipt (default 32)
  --ping-idle SECONDS    silence before !ping; 0 = never (default 15)
  --quiet                no line per receipt
exit status: 0 when COUNT lines were receipted with no mismatch, 1 otherwise,
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
    "--token": ("board_token", str),
    "--outbox-lines": ("outbox_lines", int),
    "--ping-idle": ("ping_idle", float),
}

_ENV = {
    "GATEWAYD_HOST": ("host", str),
    "GATEWAYD_PORT": ("port", int),
    "GATEWAYD_INTERVAL": ("interval", float),
    "GATEWAYD_COUNT": ("count", int),
}

# Settings whose config.py name has GATEWAY_ in front: the names
# `gatewayctl pki` prints (GATEWAY_TLS, GATEWAY_CA_PEM) and the address.
_GATEWAY_KEYS = ("host", "port", "tls", "ca_pem")


def setting_name(key):
    """The config.py name of a DEFAULTS key."""
    if key in _GATEWAY_KEYS:
        return "GATEWAY_" + key.upper()
    return key.upper()


class UsageError(Exception):
    pass


def config_from_module(cfg, mod):
    """Fill cfg from a config.py on the board (UPPER_CASE names)."""
    for key in DEFAULTS:
        name = setting_name(key)
        if hasattr(mod, name):
            cfg[key] = getattr(mod, name)
    return cfg


class _Settings:
    pass


def config_from_file(cfg, path):
    """Fill cfg from a config.py file (CPython: the same file a board uses)."""
    ns = {}
    try:
        with open(path) as f:
            exec(f.read(), ns)
    except (OSError, SyntaxError) as e:
        raise UsageError("--config %s: %s" % (path, e))
    mod = _Settings()
    for k in ns:
        setattr(mod, k, ns[k])
    return config_from_module(cfg, mod)


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
        if a == "--config" or a.startswith("--config="):
            if "=" in a:
                path = a.split("=", 1)[1]
            elif i + 1 < len(argv):
                path = argv[i + 1]
                i += 1
            else:
                raise UsageError("--config needs a value")
            config_from_file(cfg, path)
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
    if cfg["outbox_lines"] < 1:
        raise UsageError("outbox-lines must be at least 1")
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
    if ON_BOARD and not cfg["boot_file"]:
        cfg["boot_file"] = "/gatewayd_boot"
    client = Client(cfg)
    log("boot=%d" % client.boot)
    if ON_BOARD:
        run_on_board(client, cfg)  # never returns
    try:
        ok = client.run()
    except KeyboardInterrupt:
        client.led.set("stopped")
        log(
            "interrupted: receipts=%d outbox=%d dropped=%d reconnects=%d"
            % (client.receipts, len(client.outbox), client.dropped, client.reconnects)
        )
        return 130
    return 0 if ok else 1


def run_on_board(client, cfg):
    """On a board: a watchdog (machine.WDT) that resets the board when the
    client stops feeding it, and a catch-all: whatever ends run() (a bug,
    MemoryError, a message the callback chokes on) is printed and the board
    resets, to start clean and count a new boot, instead of sitting dead."""
    global _wdt
    if cfg["watchdog"] > 0:
        _wdt = machine.WDT(timeout=int(cfg["watchdog"] * 1000))
    try:
        client.run()
        log("run() returned: resetting")
    except Exception as e:  # noqa: BLE001 - the catch-all is the point
        log("fatal: %s: resetting the board" % _reason(e))
        if hasattr(sys, "print_exception"):
            sys.print_exception(e)
    sleep_ms(1000)  # let the console show it
    machine.reset()


if __name__ == "__main__":
    sys.exit(main())
