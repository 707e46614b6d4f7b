"""The TED spider harvests the notices published before eForms (TED XML, TED_EXPORT).

A real crawl (Scrapy in a subprocess, tracker.ops.crawl.run_crawl) against a stand-in for the
TED API on 127.0.0.1: ``POST /ted/v3/notices/search`` lists, per publication day, the
real TED XML notices of tests/fixtures/notices/ted-legacy by their publication number
(``DOC_ID``, e.g. ``119337-2021``) and day (``DATE_PUB``), as the TED API v3 does for
older publication numbers, plus one eForms notice; ``GET /ted/en/notice/{number}/xml``
serves the file. Backend-independent: SQLite only (each crawl costs seconds).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import NOTICES
from tests.support.crawls import FAST, days, open_failures, run_row, source_ids
from tracker.db.models import Contract, Notice
from tracker.ops.crawl import run_crawl

LEGACY = NOTICES / "ted-legacy"
# Published on 2021-03-09 (DATE_PUB 20210309): two Norwegian notices (Skyss, Bergen
# kommune) and a Spanish one; the eForms notice is listed on the 10th.
DAY_9 = ["21-119240-001-EXP.xml", "21-119282-001-EXP.xml", "21-120407-001-EXP.xml"]
EFORMS = NOTICES / "doffin-real" / "2024-110489.xml"
EFORMS_NUMBER = "110489-2024"


@dataclass
class Listed:
    number: str
    day: str  # YYYYMMDD
    body: bytes


@dataclass
class TedStandIn:
    notices: list[Listed]
    truncate: set[str] = field(default_factory=set)  # publication numbers served half
    searches: int = 0
    downloads: dict[str, int] = field(default_factory=dict)


def _listed(path: Path) -> Listed:
    data = path.read_bytes()
    doc_id = re.search(rb'DOC_ID="(\d+-\d{4})"', data)
    day = re.search(rb"<DATE_PUB>(\d{8})</DATE_PUB>", data)
    assert doc_id and day
    return Listed(doc_id.group(1).decode(), day.group(1).decode(), data)


def _handler(state: TedStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            assert self.path == "/ted/v3/notices/search"
            low = re.search(r"publication-date>=(\d{8})", body["query"]).group(1)  # type: ignore[union-attr]
            high = re.search(r"publication-date<=(\d{8})", body["query"]).group(1)  # type: ignore[union-attr]
            base = f"http://{self.headers['Host']}/ted"
            hits = [
                {
                    "publication-number": n.number,
                    "publication-date": f"{n.day[:4]}-{n.day[4:6]}-{n.day[6:]}+01:00",
                    "notice-type": "cn-standard",
                    "buyer-country": ["NOR"],
                    "links": {"xml": {"MUL": f"{base}/en/notice/{n.number}/xml"}},
                }
                for n in state.notices
                if low <= n.day <= high
            ]
            state.searches += 1
            out = {"notices": hits, "totalNoticeCount": len(hits), "iterationNextToken": None}
            self._send(200, json.dumps(out).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802
            m = re.fullmatch(r"/ted/en/notice/([0-9-]+)/xml", self.path)
            notice = next((n for n in state.notices if m and n.number == m.group(1)), None)
            if notice is None:
                self._send(404, b"not found", "text/plain")
                return
            state.downloads[notice.number] = state.downloads.get(notice.number, 0) + 1
            body = notice.body
            if notice.number in state.truncate:
                body = body[: len(body) // 2]  # a download cut short, headers complete
            self._send(200, body, "application/xml")

    return Handler


@pytest.fixture
def ted_stand_in() -> Iterator[tuple[TedStandIn, str]]:
    notices = [_listed(LEGACY / name) for name in DAY_9]
    notices.append(Listed(EFORMS_NUMBER, "20210310", EFORMS.read_bytes()))
    state = TedStandIn(notices)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    yield state, f"http://{host}:{port}"
    server.shutdown()
    server.server_close()


def _crawl(base: str, env: dict[str, str]) -> Any:
    import os

    proc_env = {k: v for k, v in os.environ.items() if k != "DOFFIN_API_KEY"}
    proc_env.update(env)
    proc_env["TED_API_URL"] = f"{base}/ted"
    return run_crawl(
        "ted", {"since": "2021-03-08", "until": "2021-03-10"}, FAST, env=proc_env, timeout=120
    )


def test_ted_spider_harvests_notices_before_eforms(
    ted_stand_in: tuple[TedStandIn, str], tracker_env: dict[str, str], engine: Engine, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("backend-independent: runs on SQLite only")
    state, base = ted_stand_in
    numbers = sorted(n.number for n in state.notices)

    # First run: one TED XML download is cut short: retried, then recorded as a failure.
    cut = next(
        n.number
        for n in state.notices
        if n.body.startswith(b"<?xml") and b"TED_EXPORT" in n.body[:400]
    )
    state.truncate = {cut}
    first = _crawl(base, tracker_env)
    assert first.exit_code == 0 and state.searches == 3
    assert source_ids(engine, "ted") == sorted(set(numbers) - {cut})
    failures = open_failures(engine)
    assert list(failures) == [cut] and "truncated or malformed XML" in failures[cut]
    assert not days(engine, "ted")["2021-03-09"].complete

    # Second run: the failure is retried and the day completes; nothing is stored twice.
    state.truncate = set()
    second = _crawl(base, tracker_env)
    assert second.exit_code == 0
    assert source_ids(engine, "ted") == numbers
    assert open_failures(engine) == {}
    assert all(d.complete for d in days(engine, "ted").values())
    assert run_row(engine, second.run_id).counts["new"] == 1
    with Session(engine) as s:
        stored = {n.source_id: n for n in s.scalars(select(Notice).where(Notice.source == "ted"))}
        # TED XML notices are identified by their OJ S number, the eForms one by its UUID.
        assert stored["119337-2021"].notice_id == "2021/S 047-119337"  # Skyss, F24
        assert stored["119321-2021"].notice_id == "2021/S 047-119321"  # Bergen kommune, F02
        assert stored["119321-2021"].subtype == "16"
        assert stored[EFORMS_NUMBER].notice_id == "8791620e-39a1-435d-985a-bee33825e3f4"
        assert stored["119321-2021"].publication_date.isoformat() == "2021-03-09"
        assert s.scalar(select(Contract).where(Contract.notice_pk == stored[EFORMS_NUMBER].id))
