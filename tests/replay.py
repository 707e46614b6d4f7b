"""A local replay server for Doffin, TED and Brønnøysund, with fault injection.

Serves, over HTTP on 127.0.0.1, the endpoints the spiders use, from the real files
under ``tests/fixtures``:

- Doffin ``/doffin/v2/search`` and ``/doffin/v2/download/{id}``: the real notices in
  ``tests/fixtures/notices/doffin-real`` (Doffin id from the file name, issue date,
  type and buyers from the XML), optionally plus replicas of them with new notice-ids
  and Doffin ids (for big days and the benchmark);
- TED ``/ted/v3/notices/search`` (POST, ``paginationMode: ITERATION``) and
  ``/ted/en/notice/{publication-number}/xml``: the notices listed in
  ``tests/fixtures/replay/ted-publications.json``;
- Brønnøysund ``/brreg/enheter/{orgnr}`` and ``/brreg/underenheter/{orgnr}``: the
  records in ``tests/fixtures/replay/brreg/`` (404 otherwise).

Faults (see ``Faults``): a requests/s limit answered with 429 + ``Retry-After``, a
burst of 429s, 500s, stalls longer than the client's timeout, truncated XML and JSON
(complete headers, half a body), connections cut short of ``Content-Length``,
duplicated hits across pages, offset paging that shifts between pages (a hit shows
twice and another slips out), a per-query hit cap (Doffin serves at most 1,000 hits
per query), and notices that 404. ``GET /_stats`` returns what was served.

Run it: ``python -m tests.replay --port 8765 [--rate 3] [--faults faults.json]``;
in code: ``server, base_url = serve_in_thread(port=0)``; point the spiders at it with
``replay_env(base_url)``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import io
import json
import re
import tarfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
REAL_NOTICES = FIXTURES / "notices" / "doffin-real"
REPLAY_DIR = FIXTURES / "replay"

NS = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "efac": "http://data.europa.eu/p27/eforms-ubl-extension-aggregate-components/1",
}
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_DOFFIN_ID = re.compile(r"(\d{4}-\d{6})\.xml$")
_NOTICE_ID = re.compile(rb'(<cbc:ID schemeName="notice-id">)([^<]+)(</cbc:ID>)')
_ISSUE_DATE = re.compile(rb"(<cbc:IssueDate>)([^<]+)(</cbc:IssueDate>)")

# Doffin's search types: a hit's ``allTypes`` holds its category and its own type.
CATEGORIES = ("PLANNING", "COMPETITION", "RESULT")


@dataclass
class Faults:
    """What the server does wrong. Counts are "the first N times", then it behaves."""

    rate_limit: float | None = None  # requests/s (token bucket); 429 + Retry-After above it
    rate_burst: float = 5.0  # bucket size: how many quick requests pass before 429s
    retry_after: int = 1  # seconds, sent in Retry-After (Doffin sends 10)
    burst_429_after: int | None = None  # after this many requests, answer a burst of 429s
    burst_429_count: int = 0  # length of that burst
    fail_500: dict[str, int] = field(default_factory=dict)  # doffin id -> 500s to send
    search_500: dict[str, int] = field(default_factory=dict)  # issue day -> 500s on search
    stall: dict[str, int] = field(default_factory=dict)  # doffin id -> stalls to send
    stall_seconds: float = 3.0
    truncate: dict[str, int] = field(default_factory=dict)  # id -> half bodies (valid length)
    cut: dict[str, int] = field(default_factory=dict)  # id -> bodies cut short of Content-Length
    missing: list[str] = field(default_factory=list)  # doffin ids whose download 404s
    duplicate_hits: int = 0  # repeat this many hits of page p at the top of page p+1
    # Offset paging that shifts between pages (a notice published meanwhile): the first
    # N pages after page 1 start one hit early, so the last hit of the page before shows
    # again and the page's own last hit slips out of the listing.
    shift_pages: int = 0
    truncate_search: dict[str, int] = field(default_factory=dict)  # day -> half JSON bodies
    hit_cap: int = 1000  # most hits one query can page through (numHitsAccessible)
    control_chars: bool = True  # raw control characters in descriptions (as Doffin sends)
    single_hit_object: bool = True  # a page with one hit gives ``hits`` as an object
    require_key: str | None = None  # answer 401 unless Ocp-Apim-Subscription-Key matches
    # Daily archives (/doffin-archive/YYYY-MM-DD.zip, /ted-packages/YYYYNNNNN):
    archive_auth: str | None = None  # "user:password" required (HTTP Basic) on the Doffin archive
    archive_missing: list[str] = field(default_factory=list)  # days whose archive 404s
    archive_truncate: dict[str, int] = field(default_factory=dict)  # day -> archives cut short
    archive_bad_member: list[str] = field(default_factory=list)  # ids served as broken XML

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class DoffinRecord:
    doffin_id: str
    day: dt.date
    xml: bytes
    hit: dict[str, Any]


def _text(root: etree._Element, path: str) -> str | None:
    value = root.findtext(path, namespaces=NS)
    return value.strip() if value else None


def _doffin_types(root_name: str, subtype: str | None, label: str) -> tuple[str, list[str]]:
    if root_name == "PriorInformationNotice":
        return "ADVISORY_NOTICE", ["PLANNING", "ADVISORY_NOTICE"]
    if root_name == "ContractNotice":
        kind = "QUALIFICATION_SCHEME" if "qu-sy" in label else "ANNOUNCEMENT_OF_COMPETITION"
        return kind, ["COMPETITION", kind]
    code = int(subtype) if subtype and subtype.isdigit() else 0
    if 25 <= code <= 28:
        kind = "ANNOUNCEMENT_OF_INTENT"
    elif 38 <= code <= 40:
        kind = "CHANGE_OF_CONCLUSION_OF_CONTRACT"
    else:
        kind = "ANNOUNCEMENT_OF_CONCLUSION_OF_CONTRACT"
    return kind, ["RESULT", kind]


def _buyers(root: etree._Element) -> list[dict[str, Any]]:
    refs = [
        e.text
        for e in root.iterfind("cac:ContractingParty/cac:Party/cac:PartyIdentification/cbc:ID", NS)
    ]
    out = []
    for org in root.iter(f"{{{NS['efac']}}}Organization"):
        oid = _text(org, "efac:Company/cac:PartyIdentification/cbc:ID")
        if oid in refs:
            out.append(
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_OID, str(oid)).hex,
                    "organizationId": (
                        _text(org, "efac:Company/cac:PartyLegalEntity/cbc:CompanyID") or ""
                    ).replace(" ", ""),
                    "name": _text(org, "efac:Company/cac:PartyName/cbc:Name"),
                }
            )
    return out


def record_from_xml(doffin_id: str, xml: bytes, label: str = "") -> DoffinRecord:
    """A Doffin search hit built from a notice's XML (issue date, type, buyers, title)."""
    root = etree.fromstring(xml, _SAFE_PARSER)
    issue = _text(root, "cbc:IssueDate") or ""
    day = dt.date.fromisoformat(issue[:10])
    subtype = None
    for e in root.iter(f"{{{NS['cbc']}}}SubTypeCode"):
        subtype = (e.text or "").strip()
        break
    kind, all_types = _doffin_types(etree.QName(root).localname, subtype, label)
    title = _text(root, "cac:ProcurementProject/cbc:Name") or ""
    description = _text(root, "cac:ProcurementProject/cbc:Description") or ""
    status = {"PLANNING": "ACTIVE", "COMPETITION": "EXPIRED", "RESULT": "AWARDED"}[all_types[0]]
    hit = {
        "id": doffin_id,
        "buyer": _buyers(root),
        "heading": title,
        "description": description[:500],
        "type": kind,
        "allTypes": all_types,
        "status": status,
        "issueDate": f"{day.isoformat()}T10:00:00Z",
        "publicationDate": day.isoformat(),
    }
    return DoffinRecord(doffin_id, day, xml, hit)


def load_real_notices(directory: Path = REAL_NOTICES) -> list[DoffinRecord]:
    """The real Doffin notices, keyed by the Doffin id in their file names."""
    records = []
    for path in sorted(directory.glob("*.xml")):
        m = _DOFFIN_ID.search(path.name)
        if m:
            records.append(record_from_xml(m.group(1), path.read_bytes(), path.stem))
    return records


def replicate(
    template: DoffinRecord, day: dt.date, n: int, start_serial: int = 900000
) -> list[DoffinRecord]:
    """``n`` copies of a real notice issued on ``day`` with new notice-ids and Doffin ids."""
    out = []
    for i in range(n):
        doffin_id = f"{day.year}-{start_serial + i:06d}"
        notice_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"replay:{doffin_id}:{day}"))
        new_id = notice_id.encode()
        xml = _NOTICE_ID.sub(lambda m, v=new_id: m.group(1) + v + m.group(3), template.xml, count=1)
        xml = _ISSUE_DATE.sub(
            lambda m: m.group(1) + f"{day.isoformat()}+00:00".encode() + m.group(3), xml, count=1
        )
        hit = dict(template.hit, id=doffin_id, issueDate=f"{day.isoformat()}T10:00:00Z")
        hit["publicationDate"] = day.isoformat()
        out.append(DoffinRecord(doffin_id, day, xml, hit))
    return out


def synthetic_days(
    days: dict[dt.date, int], templates: list[DoffinRecord] | None = None
) -> list[DoffinRecord]:
    """Replicas of the real notices (round robin, smallest first) on the given days."""
    templates = sorted(templates or load_real_notices(), key=lambda r: len(r.xml))
    out: list[DoffinRecord] = []
    serial = 900000
    for day, count in sorted(days.items()):
        for i in range(count):
            out.extend(replicate(templates[i % len(templates)], day, 1, serial))
            serial += 1
    return out


class TokenBucket:
    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, max(burst, 1.0)
        self.tokens, self.stamp = self.burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


class ReplayState:
    """Data and fault counters shared by the handler threads."""

    def __init__(
        self,
        faults: Faults | None = None,
        notices: list[DoffinRecord] | None = None,
        ted_file: Path | None = REPLAY_DIR / "ted-publications.json",
        brreg_dir: Path = REPLAY_DIR / "brreg",
    ):
        self.faults = faults or Faults()
        records = load_real_notices() if notices is None else notices
        self.doffin = {r.doffin_id: r for r in records}
        self.ted: dict[str, dict[str, Any]] = {}
        if ted_file and ted_file.is_file():
            for entry in json.loads(ted_file.read_text(encoding="utf-8"))["publications"]:
                rec = self.doffin.get(entry["doffinId"])
                if rec is not None:
                    self.ted[entry["publicationNumber"]] = dict(entry, xml=rec.xml)
        self.brreg_dir = brreg_dir
        self.bucket = (
            TokenBucket(self.faults.rate_limit, self.faults.rate_burst)
            if self.faults.rate_limit
            else None
        )
        self.lock = threading.Lock()
        self.remaining: dict[str, Counter[str]] = {
            name: Counter(getattr(self.faults, name))
            for name in (
                "fail_500",
                "search_500",
                "stall",
                "truncate",
                "cut",
                "truncate_search",
                "archive_truncate",
            )
        }
        self.remaining["shift_pages"] = Counter({"*": self.faults.shift_pages})
        self.stats: Counter[str] = Counter()
        self.requests = 0
        self.first_request: float | None = None
        self.last_request: float | None = None

    def consume(self, fault: str, key: str) -> bool:
        """True (and one fewer left) when ``fault`` should still hit ``key``."""
        with self.lock:
            left = self.remaining[fault]
            if left.get(key, 0) > 0:
                left[key] -= 1
                self.stats[f"fault:{fault}"] += 1
                return True
            return False

    def count_request(self) -> int:
        with self.lock:
            self.requests += 1
            now = time.monotonic()
            self.first_request = self.first_request or now
            self.last_request = now
            return self.requests

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            span = (self.last_request or 0) - (self.first_request or 0)
            return {
                "requests": self.requests,
                "span_seconds": round(span, 3),
                "counts": dict(self.stats),
            }


class ReplayHandler(BaseHTTPRequestHandler):
    server: ReplayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        if self.server.verbose:
            super().log_message(format, *args)

    # ------------------------------------------------------------------ plumbing

    @property
    def state(self) -> ReplayState:
        return self.server.state

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)
        self.state.stats[f"status:{status}"] += 1

    def _json(
        self,
        status: int,
        data: Any,
        raw_controls: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        text = json.dumps(data, ensure_ascii=False)
        if raw_controls:  # what Doffin really sends: unescaped control characters
            text = text.replace("\\u0008", "\b").replace("\\t", "\t")
        self._send(status, text.encode("utf-8"), headers=headers)

    def _gate(self) -> bool:
        """Rate limit, 429 bursts and the key check; False when already answered."""
        n = self.state.count_request()
        f = self.state.faults
        if f.burst_429_after is not None and f.burst_429_after < n <= (
            f.burst_429_after + f.burst_429_count
        ):
            self.state.stats["fault:burst_429"] += 1
            self._too_many()
            return False
        if self.state.bucket is not None and not self.state.bucket.take():
            self._too_many()
            return False
        key = self.headers.get("Ocp-Apim-Subscription-Key")
        if f.require_key and self.path.startswith("/doffin/") and key != f.require_key:
            self._json(401, {"statusCode": 401, "message": "Access denied: missing key."})
            return False
        return True

    def _too_many(self) -> None:
        wait = self.state.faults.retry_after
        self._json(
            429,
            {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {wait} seconds."},
            headers={"Retry-After": str(wait)},
        )
        self.state.stats["rate_limited"] += 1

    def _not_found(self, message: str) -> None:
        self._json(404, {"status": 404, "error": "Not Found", "message": message})

    # ------------------------------------------------------------------ routes

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        url = urlsplit(self.path)
        if url.path == "/_stats":
            self._json(200, self.state.snapshot())
            return
        if not self._gate():
            return
        parts = [p for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        if parts[:3] == ["doffin", "v2", "search"]:
            self._doffin_search(query)
        elif parts[:3] == ["doffin", "v2", "download"] and len(parts) == 4:
            self._doffin_download(parts[3])
        elif parts[:3] == ["ted", "en", "notice"] and len(parts) == 5 and parts[4] == "xml":
            self._ted_xml(parts[3])
        elif parts[:1] == ["doffin-archive"] and len(parts) == 2:
            self._doffin_archive(parts[1])
        elif parts[:1] == ["ted-packages"] and len(parts) == 2:
            self._ted_package(parts[1])
        elif len(parts) == 3 and parts[0] == "brreg" and parts[1] in ("enheter", "underenheter"):
            self._brreg(parts[1], parts[2])
        else:
            self._not_found(f"no route {url.path}")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not self._gate():
            return
        if urlsplit(self.path).path.rstrip("/") == "/ted/v3/notices/search":
            try:
                self._ted_search(json.loads(body or b"{}"))
            except (ValueError, KeyError) as exc:
                self._json(400, {"message": f"bad search request: {exc}"})
        else:
            self._not_found(f"no route {self.path}")

    # ------------------------------------------------------------------ doffin

    def _doffin_search(self, query: dict[str, list[str]]) -> None:
        f = self.state.faults
        try:
            day_from = dt.date.fromisoformat(query.get("issueDateFrom", ["0001-01-01"])[0])
            day_to = dt.date.fromisoformat(query.get("issueDateTo", ["9999-12-31"])[0])
            per_page = min(int(query.get("numHitsPerPage", ["20"])[0]), 100)
            page = int(query.get("page", ["1"])[0])
        except ValueError as exc:
            self._json(400, {"message": str(exc)})
            return
        if day_from == day_to and self.state.consume("search_500", day_from.isoformat()):
            self._json(500, {"message": "Internal server error"})
            return
        types = set(query.get("type", []))
        statuses = set(query.get("status", []))
        matches = [
            r.hit
            for r in sorted(self.state.doffin.values(), key=lambda r: (r.day, r.doffin_id))
            if day_from <= r.day <= day_to
            and (not types or types & set(r.hit["allTypes"]))
            and (not statuses or r.hit["status"] in statuses)
        ]
        accessible = min(len(matches), f.hit_cap)
        start = (page - 1) * per_page
        if page > 1 and start < accessible and self.state.consume("shift_pages", "*"):
            start -= 1  # the listing moved by one between the two page requests
        hits = matches[start : min(start + per_page, accessible)] if start < accessible else []
        if hits and page > 1 and f.duplicate_hits:
            hits = matches[max(0, start - f.duplicate_hits) : start] + hits
        if f.control_chars:
            hits = [dict(h, description=h["description"] + "\b\t(replay)") for h in hits]
        payload: dict[str, Any] = {
            "numHitsTotal": len(matches),
            "numHitsAccessible": accessible,
            "hits": hits[0] if (len(hits) == 1 and f.single_hit_object) else hits,
        }
        self.state.stats["doffin_search"] += 1
        if day_from == day_to and self.state.consume("truncate_search", day_from.isoformat()):
            text = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self._send(200, text[: len(text) // 2])
            return
        self._json(200, payload, raw_controls=f.control_chars)

    def _doffin_download(self, doffin_id: str) -> None:
        rec = self.state.doffin.get(doffin_id)
        if rec is None or doffin_id in self.state.faults.missing:
            self._not_found(f"Notice {doffin_id} was not found")
            return
        self._serve_xml(doffin_id, rec.xml)
        self.state.stats["doffin_download"] += 1

    # ------------------------------------------------------------------ archives

    def _day_records(self, day: dt.date) -> list[DoffinRecord]:
        return sorted(
            (r for r in self.state.doffin.values() if r.day == day), key=lambda r: r.doffin_id
        )

    def _member_xml(self, rec: DoffinRecord) -> bytes:
        if rec.doffin_id in self.state.faults.archive_bad_member:
            return b"<ContractNotice><unclosed>"
        return rec.xml

    def _send_archive(self, day: dt.date, body: bytes, content_type: str) -> None:
        if self.state.consume("archive_truncate", day.isoformat()):
            body = body[: len(body) // 2]
        self._send(200, body, content_type)
        self.state.stats["archives"] += 1

    def _doffin_archive(self, name: str) -> None:
        """Doffin's daily archive (assumed format): a zip of ``{doffinId}.xml``."""
        f = self.state.faults
        if f.archive_auth:
            expected = "Basic " + base64.b64encode(f.archive_auth.encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._json(401, {"statusCode": 401, "message": "Access denied."})
                return
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.zip", name)
        if not m or m.group(1) in f.archive_missing:
            self._not_found(f"no archive {name}")
            return
        day = dt.date.fromisoformat(m.group(1))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for rec in self._day_records(day):
                zf.writestr(f"{rec.doffin_id}.xml", self._member_xml(rec))
        self._send_archive(day, buf.getvalue(), "application/zip")

    def _ted_package(self, name: str) -> None:
        """TED's daily package of one OJ S issue (``YYYYNNNNN``): a tar.gz of
        ``{number:08d}_{year}.xml``; the Doffin records of the issue's day stand in for
        the notices (publication number from the Doffin id)."""
        from spiders.sources.ted_packages import ojs_issue

        if not re.fullmatch(r"\d{9}", name):
            self._not_found(f"no package {name}")
            return
        year, issue = int(name[:4]), int(name[4:])
        weekdays = frozenset(range(5))
        day = next(
            (
                dt.date(year, 1, 1) + dt.timedelta(days=i)
                for i in range(366)
                if (dt.date(year, 1, 1) + dt.timedelta(days=i)).year == year
                and ojs_issue(dt.date(year, 1, 1) + dt.timedelta(days=i), weekdays, frozenset())
                == issue
            ),
            None,
        )
        if day is None or day.isoformat() in self.state.faults.archive_missing:
            self._not_found(f"no package {name}")
            return
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for rec in self._day_records(day):
                y, number = rec.doffin_id.split("-")
                data = self._member_xml(rec)
                info = tarfile.TarInfo(f"{name}/{int(number):08d}_{y}.xml")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
        self._send_archive(day, buf.getvalue(), "application/gzip")

    def _serve_xml(self, key: str, xml: bytes) -> None:
        st = self.state
        if st.consume("fail_500", key):
            self._json(500, {"message": "Internal server error"})
            return
        if st.consume("stall", key):
            time.sleep(st.faults.stall_seconds)
        if st.consume("truncate", key):
            self._send(200, xml[: len(xml) // 2], "application/xml")
            return
        if st.consume("cut", key):
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(xml)))
            self.end_headers()
            try:
                self.wfile.write(xml[: len(xml) // 2])
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True
            return
        self._send(200, xml, "application/xml")

    # ------------------------------------------------------------------ ted

    def _ted_search(self, body: dict[str, Any]) -> None:
        query = str(body["query"])
        if "buyer-country IN (NOR)" not in query:
            notices: list[dict[str, Any]] = []
        else:
            lo = re.search(r"publication-date\s*>=\s*(\d{8})", query)
            hi = re.search(r"publication-date\s*<=\s*(\d{8})", query)
            eq = re.search(r"publication-date\s*=\s*(\d{8})", query)
            low = (lo or eq).group(1) if (lo or eq) else "00000000"
            high = (hi or eq).group(1) if (hi or eq) else "99999999"
            notices = [
                e
                for _, e in sorted(self.state.ted.items())
                if low <= e["publicationDate"].replace("-", "")[:8] <= high
            ]
        limit = min(int(body.get("limit", 10)), 250)
        token = body.get("iterationNextToken")
        offset = int(base64.b64decode(token).decode()) if token else 0
        page = notices[offset : offset + limit]
        base = f"http://{self.headers.get('Host')}/ted"
        out = []
        for e in page:
            pn = e["publicationNumber"]
            out.append(
                {
                    "publication-number": pn,
                    "publication-date": f"{e['publicationDate']}+01:00",
                    "notice-type": e.get("noticeType"),
                    "buyer-country": ["NOR"],
                    "links": {"xml": {"MUL": f"{base}/en/notice/{pn}/xml"}},
                }
            )
        nxt = offset + limit
        self.state.stats["ted_search"] += 1
        self._json(
            200,
            {
                "notices": out,
                "totalNoticeCount": len(notices),
                "iterationNextToken": (
                    base64.b64encode(str(nxt).encode()).decode() if nxt < len(notices) else None
                ),
                "timedOut": False,
            },
        )

    def _ted_xml(self, pubno: str) -> None:
        entry = self.state.ted.get(pubno)
        if entry is None:
            self._not_found(f"notice {pubno} not found")
            return
        self._serve_xml(f"ted:{pubno}", entry["xml"])

    # ------------------------------------------------------------------ brreg

    def _brreg(self, kind: str, orgnr: str) -> None:
        path = self.state.brreg_dir / kind / f"{orgnr}.json"
        if not re.fullmatch(r"\d{9}", orgnr):
            self._json(400, {"status": 400, "message": f"Ugyldig organisasjonsnummer {orgnr}"})
        elif path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            data.pop("_synthesised", None)
            self._json(200, data)
        else:
            self._not_found(f"Ingen {kind[:-2]} med organisasjonsnummer {orgnr} ble funnet")
        self.state.stats[f"brreg_{kind}"] += 1


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ReplayState, verbose: bool = False):
        super().__init__(address, ReplayHandler)
        self.state = state
        self.verbose = verbose

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def serve_in_thread(
    port: int = 0,
    faults: Faults | None = None,
    notices: list[DoffinRecord] | None = None,
    host: str = "127.0.0.1",
) -> tuple[ReplayServer, str]:
    """Start the replay server in a daemon thread; returns (server, base URL).

    Stop it with ``server.shutdown(); server.server_close()``.
    """
    server = ReplayServer((host, port), ReplayState(faults, notices))
    threading.Thread(target=server.serve_forever, name="replay-server", daemon=True).start()
    return server, server.base_url


def replay_env(base_url: str) -> dict[str, str]:
    """Environment variables that point the spiders at a replay server."""
    return {
        "DOFFIN_API_URL": f"{base_url}/doffin",
        "DOFFIN_ARCHIVE_URL": f"{base_url}/doffin-archive",
        "TED_PACKAGE_URL": f"{base_url}/ted-packages",
        "TED_API_URL": f"{base_url}/ted",
        "BRREG_API_URL": f"{base_url}/brreg",
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m tests.replay --port 8765 [--rate R] [--faults file.json]."""
    ap = argparse.ArgumentParser(prog="python -m tests.replay", description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--rate", type=float, default=None, help="requests/s limit (429 above it)")
    ap.add_argument("--faults", type=Path, default=None, help="JSON file of Faults fields")
    ap.add_argument("--replicas", type=int, default=0, help="extra notices per real day")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    faults = Faults.from_dict(json.loads(args.faults.read_text())) if args.faults else Faults()
    if args.rate:
        faults.rate_limit = args.rate
    notices = load_real_notices()
    if args.replicas:
        notices += synthetic_days({r.day: args.replicas for r in notices})
    server = ReplayServer((args.host, args.port), ReplayState(faults, notices), args.verbose)
    print(f"replay server on {server.base_url} ({len(notices)} Doffin notices)", flush=True)
    for key, value in replay_env(server.base_url).items():
        print(f"  export {key}={value}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
