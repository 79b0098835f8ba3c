"""A loopback TCP proxy that breaks a share of the connections through it: reset at once,
stall (accept, never answer), or drop midway. The rest are forwarded untouched."""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from types import TracebackType


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
