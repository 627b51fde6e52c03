"""The HTTP listener's bounds with the real daemon, from several loopback addresses (Linux
routes all of 127.0.0.0/8 to lo): slow clients from one address fill max_connections_per_peer
and the next from there is answered 429 at once; slow clients fill max_connections and the
next is answered 503 at once, both with Retry-After, while /healthz still answers; slow
clients that keep sending a byte now and then are closed at request_timeout_s (a deadline, not
an idle timeout), after which requests are served again; a request whose body would pass
max_buffered_bytes (all bodies held at once) has it discarded and gets 503 once it is sent. Each refusal is counted in /metrics.
usage: http_limits_test.py WHAGENT [ARGS...]"""
import json
import re
import socket
import threading
import time

import harness as h
from harness import eq, has, ok

REC = ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":1,'
       '"uom":"EA","bin":"A-1"}')


def connect(port, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(30 * h.SLOW)
    s.connect(("127.0.0.1", port))
    return s


def request(port, src, path="/v1/status"):
    """One GET from src: (status, headers text, body)."""
    s = connect(port, src)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head.decode(), body.decode()


class Slow:
    """A client that sends a request's headers a byte every 0.3 s; closed tells when the agent
    closed it."""

    def __init__(self, port, src):
        self.s = connect(port, src)
        self.s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
        self.closed = None
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.dribble, daemon=True)
        self.thread.start()

    def dribble(self):
        try:
            for _ in range(100):  # bounded: 30 s at most
                self.s.sendall(b"X")
                self.s.settimeout(0.3)
                try:
                    if self.s.recv(1) == b"":
                        break
                except socket.timeout:
                    continue
        except OSError:
            pass
        self.closed = time.monotonic() - self.t0
        self.s.close()


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections="[input.http]\nlisten = 127.0.0.1:%d\nmax_connections = 10\n"
                              "max_connections_per_peer = 4\nrequest_timeout_s = 3\n"
                              "max_buffered_bytes = 64KiB\nmax_body_bytes = 48KiB\n" % p)
    h.listen_port(a, conf)
    P = port[0]

    slow = [Slow(P, "127.0.0.2") for _ in range(4)]
    code, head, body = request(P, "127.0.0.2")
    eq(code, 429, "a fifth connection from one address: %s" % body)
    has(head, "Retry-After: ", "the 429 says when to retry")
    has(body, "max_connections_per_peer", "the 429's reason")
    slow += [Slow(P, "127.0.0.%d" % (3 + i // 2)) for i in range(6)]
    code, head, body = request(P, "127.0.0.9")
    eq(code, 503, "an eleventh connection: %s" % body)
    has(head, "Retry-After: ", "the 503 says when to retry")
    has(body, "max_connections", "the 503's reason")
    code, _, body = request(P, "127.0.0.9", "/healthz")
    eq(code, 200, "/healthz past the limits: %s" % body)

    h.wait_for(lambda: all(s.closed is not None for s in slow), 30, "slow clients still open")
    lasted = sorted(round(s.closed, 1) for s in slow)
    ok(lasted[-1] < 20, "slow clients lasted %s s (an idle timeout would never close them)" % lasted)
    code, _, body = request(P, "127.0.0.9")
    eq(code, 200, "served again once the slow clients are closed: %s" % body)

    # bodies held at once: one 40 KiB POST half sent holds its 48 KiB buffer
    big = ("[" + REC % "B1" + "]").ljust(40000)
    s1 = connect(P, "127.0.0.10")
    s1.sendall(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(big)).encode() + big[:33000].encode())
    def buffered():
        m = re.search(r"^whagent_http_buffered_bytes (\d+)$", request(P, "127.0.0.1", "/metrics")[2], re.M)
        return int(m.group(1))
    h.wait_for(lambda: buffered() >= 32768, 30, "the first body is not held")
    small = ("[" + REC % "B2" + "]").ljust(30000)
    s2 = connect(P, "127.0.0.11")
    s2.sendall(("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % len(small)).encode() + small.encode())
    answer = s2.recv(65536).decode()
    has(answer, r"^HTTP/1.1 503", "a body past max_buffered_bytes")
    has(answer, "max_buffered_bytes", "the reason")
    s2.close()
    s1.sendall(big[33000:].encode())
    answer = s1.recv(65536).decode()
    has(answer, r"^HTTP/1.1 200", "the first body, completed")
    s1.close()

    metrics = request(P, "127.0.0.1", "/metrics")[2]
    counts = dict(re.findall(r'^whagent_http_refused_total\{bound="(\w+)"\} (\d+)$', metrics, re.M))
    got = {k: int(v) for k, v in counts.items()}
    eq((got.get("max_connections_per_peer", 0) >= 1, got.get("max_connections", 0) >= 1,
        got.get("request_timeout_s", 0) >= 10, got.get("max_buffered_bytes", 0) >= 1),
       (True, True, True, True), "refusals counted: %s" % got)
    a.stop()
    return "429 per peer, 503 in all, /healthz served, slow clients closed after %s s, body budget 503" % lasted[-1]


if __name__ == "__main__":
    h.main(test)
