"""Real servers on loopback for the tests: SMTP (aiosmtpd) and HTTP (http.server)."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from automation.local.embedded_db import free_port


@dataclass
class Mailbox:
    messages: list[Message] = field(default_factory=list)
    envelopes: list[list[str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Recorded, int], tuple[int, dict[str, str], bytes]]


@contextmanager
def http_server(
    respond: Responder | None = None, host: str = "127.0.0.1", port: int | None = None
) -> Iterator[tuple[list[Recorded], str]]:
    """A loopback HTTP server recording every request; `respond(request, n)` picks the answer.
    `host` (and `port`): another loopback address (127.0.0.2, ...) stands for a second machine."""
    requests: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
            requests.append(recorded)
            status, headers, body = (respond or (lambda r, n: (200, {}, b'{"ok": true}')))(recorded, len(requests))
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port or free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield requests, f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
