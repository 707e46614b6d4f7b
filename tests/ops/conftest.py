"""Real local channels for alert tests: an aiosmtpd SMTP server and an HTTP webhook receiver,
both on 127.0.0.1 with a free port; and small builders for users, accounts, notices and
opportunities (rows of the shared model)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import threading
import zlib
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from tests.conftest import REAL
from tracker.config import Settings, load_settings
from tracker.db.models import Account, Lot, Notice, NoticeBuyer, NoticeLink, Opportunity, User


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


# --------------------------------------------------------------------------- data builders


def add_user(session: Session, email: str, role: str) -> User:
    user = User(email=email, role=role, password_hash="x", active=True)
    session.add(user)
    session.flush()
    return user


def add_account(session: Session, name: str, kam_email: str | None) -> Account:
    acct = Account(name=name, kam_email=kam_email)
    session.add(acct)
    session.flush()
    return acct


def add_notice(
    session: Session,
    notice_id: str,
    *,
    issue_date: dt.date,
    title: str = "Rammeavtale om IT-drift",
    account: Account | None = None,
    deadline: dt.datetime | None = None,
    version: str = "01",
    main_cpv: str | None = None,
) -> Notice:
    """A notice row built from a real Doffin file's bytes (parsed fields set by hand)."""
    raw = (REAL / "2024-110489.xml").read_bytes()
    notice = Notice(
        source="doffin",
        source_id=notice_id,
        notice_id=notice_id,
        version=version,
        issue_date=issue_date,
        title=title,
        notice_type="cn-standard",
        subtype="16",
        main_cpv=main_cpv,
        raw_xml=zlib.compress(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        parser_version="test",
        estimated_value=Decimal("2500000"),
        currency="NOK",
    )
    notice.buyers.append(NoticeBuyer(name=account.name if account else "Kjøper", position=0))
    if deadline is not None:
        notice.lots.append(Lot(lot_id="LOT-0001", submission_deadline=deadline, position=0))
    session.add(notice)
    session.flush()
    if account is not None:
        session.add(
            NoticeLink(
                notice_pk=notice.id,
                buyer_pk=notice.buyers[0].id,
                account_id=account.id,
                method="orgnr",
                confidence=1.0,
            )
        )
        session.flush()
    return notice


def add_opportunity(session: Session, key: str, account: Account, **dates: Any) -> Opportunity:
    opp = Opportunity(
        key=key,
        kind="retender",
        account_id=account.id,
        title=f"Re-tender {key}",
        buyer_name=account.name,
        **dates,
    )
    session.add(opp)
    session.flush()
    return opp
