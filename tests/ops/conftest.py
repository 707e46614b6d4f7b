"""Real local channels for alert tests: an aiosmtpd SMTP server and an HTTP webhook receiver,
both on 127.0.0.1 with a free port (rows for the tests come from tests/factories.py)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tracker.config import Settings, load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        msg["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK"


class SMTPServer:
    """A real SMTP server that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Collect()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


class WebhookReceiver:
    """Records JSON posts; answers ``status`` (set it to 500 to simulate an outage)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.status == 200:
                    receiver.posts.append((self.path, json.loads(body)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def ops_settings(smtp_port: int | None, **extra: str) -> Settings:
    env = {
        "TRACKER_HOME": "/nonexistent-tracker-home",
        "TRACKER_SMTP_TLS": "none",
        "TRACKER_SMTP_FROM": "tracker@example.test",
        "TRACKER_BASE_URL": "http://tracker.example.test",
        "TRACKER_ALERT_TIMEOUT_SECONDS": "5",
        **extra,
    }
    if smtp_port is not None:
        env |= {"TRACKER_SMTP_HOST": "127.0.0.1", "TRACKER_SMTP_PORT": str(smtp_port)}
    return load_settings(env)
