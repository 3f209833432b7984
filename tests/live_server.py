"""Serve an ASGI app with uvicorn on a loopback port, in a thread, for tests that need real HTTP:
browser journeys, and clients that must talk to a sandbox over the network."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


def bind_loopback() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1: its address is known before the app is
    built (a sandbox must know its own URL, for example to name its issuer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


class LiveServer(uvicorn.Server):
    def __init__(self, app: object, sock: socket.socket | None = None) -> None:
        super().__init__(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", ws="none")  # type: ignore[arg-type]
        )
        self.sock = sock or bind_loopback()
        self.url = url_of(self.sock)
        self.thread = threading.Thread(target=self._run, daemon=True, name="live-server")

    def install_signal_handlers(self) -> None:  # runs in a thread: the test runner owns signals
        pass

    def _run(self) -> None:
        self.run(sockets=[self.sock])

    def start(self, timeout: float = 15.0) -> str:
        """Start serving; returns the base URL once the app is up."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.started:
            if not self.thread.is_alive():
                raise RuntimeError("the live server stopped while starting (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start within {timeout} s")
            time.sleep(0.02)
        return self.url

    def stop(self) -> None:
        self.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def serving(app: object, sock: socket.socket | None = None) -> Iterator[str]:
    """`with serving(app) as url:` — the app answers on `url` inside the block."""
    server = LiveServer(app, sock)
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def free_port() -> int:
    """A port nothing listens on right now (for servers that must be given a port number)."""
    with bind_loopback() as sock:
        return int(sock.getsockname()[1])
