"""The emulator's transport: a threaded stdlib HTTP server that sends each reply in one write.

It knows nothing of the API: it reads a request, asks a :class:`Responder` for the reply, waits out
the reply's latency and delay, and writes it.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_events.emulator._messages import Reply
from airflow_provider_events.emulator._protocol import parse_count


class Responder(Protocol):
    """What the transport serves: the reply to each request, and where its log lines go."""

    def respond(
        self, method: str, path: str, params: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply: ...

    def log(self, line: str) -> None: ...


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], responder: Responder) -> None:
        self.responder = responder
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.connections_accepted = 0
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall for seconds offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Over HTTPS a client that rejects the certificate (or speaks plain http) ends the handshake:
        # a client's choice, worth no traceback on the server's stderr.
        if isinstance(sys.exc_info()[1], ssl.SSLError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        # Keep-alive connections would otherwise go on being served after stop().
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EventsEmulator"
    timeout = 300
    server: EmulatorServer

    def setup(self) -> None:
        super().setup()
        # With Nagle on, a keep-alive response can wait ~40 ms for the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
            self.server.connections_accepted += 1

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        arrived = time.monotonic()
        body = self._drain_body()
        target = urlsplit(self.path)
        params = dict(parse_qsl(target.query, keep_blank_values=True))
        reply = self.server.responder.respond(
            self.command, target.path, params, dict(self.headers.items()), body
        )
        head, body = reply.render(close=self.close_connection)
        # Latency counts from arrival, so the work above hides inside it instead of adding to it.
        time.sleep(max(0.0, arrived + reply.latency - time.monotonic()) + reply.delay)
        if reply.disconnect:
            body, self.close_connection = body[: len(body) // 2], True
        elif self.command == "HEAD":
            body = b""
        try:
            self.wfile.write(head + body)  # one write: a split response stalls on delayed ACKs
        except OSError:
            self.close_connection = True
        self.log_message('"%s %s" %s', self.command, target.path, 0 if reply.disconnect else reply.status)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _drain_body(self) -> bytes:
        # An unread request body would be parsed as the next request on a keep-alive connection.
        length = parse_count(self.headers.get("Content-Length"))
        if self.headers.get("Transfer-Encoding") or (length or 0) > 1 << 20:
            self.close_connection = True
        elif length:
            return self.rfile.read(length)
        return b""

    def log_message(self, format: str, *args: Any) -> None:
        self.server.responder.log(f"{self.address_string()} - {format % args}")
