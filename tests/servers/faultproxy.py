"""Loopback proxies that break a share of what goes through them.

``FaultProxy`` works on TCP connections: it resets some at once, stalls some (accepts, never
answers) and drops some midway. ``HttpFaultProxy`` works on HTTP requests: a planned share
(tests.servers.faultplan) is answered 429, 500 or 503 or has its connection reset before it
reaches the server. The rest are forwarded untouched."""

from __future__ import annotations

import contextlib
import http.client
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from tests.servers.faultplan import FaultPlan, digest, reset

# headers about one connection, which a proxy never passes on
_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                  "transfer-encoding", "upgrade", "content-length"})


class FaultProxy:
    def __init__(self, target_port: int, fault_rate: float = 0.2, seed: int = 1) -> None:
        self.target = ("127.0.0.1", target_port)
        self.rate = fault_rate
        self.rng = random.Random(seed)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.faults: Counter[str] = Counter()
        self.closing = False
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.closing = True
        self.listener.close()
        for s in self.sockets:
            s.close()

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            fault = self.rng.choice(["reset", "stall", "drop"]) if (
                self.rng.random() < self.rate) else "none"
            self.faults[fault] += 1
            if fault == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
            elif fault != "stall":  # a stalled client is simply never served
                threading.Thread(target=self._serve, args=(client, fault == "drop"),
                                 daemon=True).start()

    def _serve(self, client: socket.socket, drop: bool) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        self.sockets.append(upstream)
        budget = [self.rng.randrange(1, 400)] if drop else [None]

        def pump(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(65536):
                    if budget[0] is not None:
                        if budget[0] <= len(data):
                            dst.sendall(data[:budget[0]])
                            break
                        budget[0] -= len(data)
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)


class HttpFaultProxy:
    """An HTTP proxy on loopback in front of ``target_port`` that fails the requests
    ``plan`` picks (before they reach the server) and relays the others."""

    def __init__(self, target_port: int, plan: FaultPlan) -> None:
        self.plan = plan
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _relay_handler(target_port, plan))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def __enter__(self) -> HttpFaultProxy:
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()


def _relay_handler(port: int, plan: FaultPlan) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def __getattr__(self, name: str) -> Callable[[], None]:
            if name.startswith("do_"):  # every method: PROPFIND, REPORT, MKCALENDAR ...
                return self.relay
            raise AttributeError(name)

        def relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            signed = "signed" if self.headers.get("Authorization") else "anonymous"
            fault = plan.fault(f"{self.command} {self.path} {digest(body)} {signed}")
            if fault is not None and not fault.status:
                reset(self)
                return
            if fault is not None:
                extra = {} if fault.retry_after is None else {
                    "Retry-After": f"{fault.retry_after:g}"}
                self.answer(fault.status, extra, b"")
                return
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                upstream.request(self.command, self.path, body, {
                    k: v for k, v in self.headers.items() if k.lower() not in _HOP})
                response = upstream.getresponse()
                self.answer(response.status, {k: v for k, v in response.getheaders()
                                              if k.lower() not in _HOP}, response.read())
            finally:
                upstream.close()

        def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Relay
