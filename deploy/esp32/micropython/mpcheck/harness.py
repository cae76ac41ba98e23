# Runs gatewayd_client.py's real logic under MicroPython (run.mjs loads it
# into the WebAssembly port, which has no socket module) with an in-memory
# gateway: two refused connects, answers split into 5-byte pieces, one
# connection dropped by the "gateway" with a line unreceipted, and a !msg.
# MODE (set by run.mjs): "session" answers the hello with !ok; "raw" echoes
# it back as a raw-framing gatewayd does; "mdns" is a session with an empty
# host, so the client must resolve MDNS_HOST.local.
import sys


class Net:
    refuse = 2
    data_lines = 0
    drop_at = 3  # the 3rd data line is lost with the connection
    msg_after = 5  # a !msg after the 5th data line
    asked = []


class FakeSock:
    def __init__(self, fam, typ):
        self.out = b""
        self.inbuf = b""
        self.eof = False

    def settimeout(self, t):
        pass

    def connect(self, addr):
        if Net.refuse > 0:
            Net.refuse -= 1
            raise OSError(111)

    def sendall(self, d):
        self.inbuf += bytes(d)
        while b"\n" in self.inbuf:
            i = self.inbuf.index(b"\n")
            line, self.inbuf = self.inbuf[: i + 1], self.inbuf[i + 1 :]
            self.line(line)

    def line(self, line):
        if self.eof:
            return
        if line.startswith(b"!hello "):
            if MODE == "raw":
                self.out += line
            else:
                self.out += b"!ok " + line.split(b" ")[1] + b"\n"
            return
        if line.startswith(b"!ping"):
            self.out += b"!pong\n"
            return
        Net.data_lines += 1
        if Net.data_lines == Net.drop_at:
            self.eof = True  # the gateway goes away before this receipt
            return
        self.out += line
        if Net.data_lines == Net.msg_after and MODE != "raw":
            self.out += b"!msg led on\n"

    def recv(self, n):
        if not self.out:
            if self.eof:
                return b""
            raise OSError(110)
        n = min(n, 5)
        chunk, self.out = self.out[:n], self.out[n:]
        return chunk

    def close(self):
        pass


class FakeSocketModule:
    AF_INET = 2
    SOCK_STREAM = 1
    socket = FakeSock


def getaddrinfo(h, p):
    Net.asked.append(h)
    return [(2, 1, 0, "", (h, p))]


m = FakeSocketModule()
m.getaddrinfo = getaddrinfo
sys.modules["socket"] = m

g = {"__name__": "gatewayd_client"}
exec(SRC, g)
host = "" if MODE == "mdns" else "127.0.0.1"
args = ["--host", host, "--port", "1", "--interval", "0", "--count", "8", "--backoff-min", "0.01",
        "--backoff-max", "0.05", "--id", "esp32-TEST", "--read-timeout", "1"]
rc = g["main"](args)
print("asked for %s" % ",".join(Net.asked))
print("RESULT rc=%d" % rc)
