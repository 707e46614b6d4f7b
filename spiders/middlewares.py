"""Downloader middlewares: API key, adaptive pacing (429 + Retry-After), backoff retries.

- ``ApiKeyMiddleware`` adds ``Ocp-Apim-Subscription-Key`` to requests under the Doffin
  base URL only (and removes it from any other request, e.g. after a redirect), so
  the key never leaves for another host. The key is a ``Secret`` whose repr is
  ``***``; Scrapy logs neither headers nor custom settings.
- ``AdaptivePacingMiddleware`` handles 429: it pauses the whole download slot for
  ``Retry-After`` seconds (AutoThrottle only reacts to latency and would keep firing
  into the limit), sets the slot's delay to just under the rate that was being served
  when the limit hit, then probes slowly upwards. The request is retried after the
  pause; 429s do not count as retries of the request.
- ``BackoffRetryMiddleware`` replaces Scrapy's retry middleware: 5xx, timeouts, cut
  connections and bodies that do not parse as complete (XML or JSON) are retried
  with exponential backoff; a request still failing ends in its errback.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lxml import etree
from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

from spiders.exceptions import IncompleteResponse, RateLimited
from spiders.secret import Secret

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

KEY_HEADER = "Ocp-Apim-Subscription-Key"
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class ApiKeyMiddleware:
    """Send the Doffin key with Doffin requests only."""

    def __init__(self, base_url: str, key: Secret | str | None):
        self.base_url = base_url.rstrip("/") + "/"
        self.key = key.reveal() if isinstance(key, Secret) else key

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ApiKeyMiddleware:
        return cls(
            crawler.settings.get("DOFFIN_API_URL", ""), crawler.settings.get("DOFFIN_API_KEY")
        )

    def process_request(self, request: Request) -> None:
        if self.key and request.url.startswith(self.base_url):
            request.headers[KEY_HEADER] = self.key
        elif KEY_HEADER in request.headers:
            del request.headers[KEY_HEADER]


def retry_after_seconds(value: bytes | str | None, default: float, now: dt.datetime) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if value is None:
        return default
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class _Pace:
    ok_times: deque[float] = field(default_factory=deque)
    paused_until: float = 0.0
    ceiling: float | None = None  # requests/s served when the last 429 came
    last_event: float = 0.0  # last 429 or ceiling probe
    step: float = 1.05  # factor of the next ceiling probe


class AdaptivePacingMiddleware:
    """Keep close to the rate the server allows; honour 429 + Retry-After.

    Per download slot: until the first 429 the delay shrinks quickly (slow start);
    a 429 pauses the slot for Retry-After and records the rate that was being served
    as the ceiling; the delay then settles at ``PACING_RATE_MARGIN`` of the ceiling,
    and every ``PACING_CEILING_PROBE_SECONDS`` without a 429 the ceiling is raised by
    ``PACING_CEILING_STEP`` in case the server allows more.
    """

    window = 3.0  # seconds of successes used to measure the served rate

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.min_delay = s.getfloat("PACING_MIN_DELAY")
        self.max_delay = s.getfloat("PACING_MAX_DELAY")
        self.default_wait = s.getfloat("PACING_DEFAULT_RETRY_AFTER")
        self.max_wait = s.getfloat("PACING_MAX_RETRY_AFTER")
        self.max_429 = s.getint("PACING_MAX_429_PER_REQUEST")
        self.margin = s.getfloat("PACING_RATE_MARGIN")
        self.start_probe = s.getfloat("PACING_START_PROBE_FACTOR")
        self.probe = s.getfloat("PACING_PROBE_FACTOR")
        self.probe_every = s.getfloat("PACING_CEILING_PROBE_SECONDS")
        self.step = s.getfloat("PACING_CEILING_STEP")
        self.paces: dict[str, _Pace] = {}

    def _new_pace(self) -> _Pace:
        return _Pace(step=self.step)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AdaptivePacingMiddleware:
        return cls(crawler)

    def _slot(self, request: Request) -> tuple[str, Any]:
        downloader = self.crawler.engine.downloader  # type: ignore[union-attr]
        key = downloader.get_slot_key(request)
        return key, downloader.slots.get(key)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        key, slot = self._slot(request)
        pace = self.paces.get(key) or self.paces.setdefault(key, self._new_pace())
        now = time.monotonic()
        if response.status != 429:
            pace.ok_times.append(now)
            while pace.ok_times and pace.ok_times[0] < now - self.window:
                pace.ok_times.popleft()
            if slot is not None and now >= pace.paused_until:
                self._speed_up(slot, pace, now)
            return response
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("pacing/429")
        wait = min(
            self.max_wait,
            retry_after_seconds(
                response.headers.get("Retry-After"), self.default_wait, dt.datetime.now(dt.UTC)
            ),
        )
        if slot is not None and now >= pace.paused_until:
            # First 429 of this pause: the rate served until now is the ceiling.
            # Measured since the previous pause ended: the refill of a pause is not the rate.
            start = max(now - self.window, pace.paused_until)
            recent = [t for t in pace.ok_times if t >= start]
            served = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) >= 3 else 0.0
            if recent and recent[-1] - recent[0] < 0.2:
                served = 0.0  # too short to measure
            measured = served or 1.0 / (max(slot.delay, self.min_delay, 0.01) * 1.5)
            if pace.ceiling is not None:
                # A 429 near a known ceiling never raises it, and later probes get finer.
                measured = min(measured, pace.ceiling)
                pace.step = max(1.01, 1 + (pace.step - 1) / 2)
            pace.ceiling = measured
            slot.delay = self._clamp(1.0 / (pace.ceiling * self.margin))
            pace.paused_until = now + wait
            pace.last_event = now
            # The downloader waits ``delay - (now - lastseen)``: a lastseen in the future pauses.
            slot.lastseen = now + wait - slot.delay
            stats.set_value("pacing/delay", round(slot.delay, 4))
            logger.info(
                "429 from %s: pausing %.1fs; served %.2f/s, delay now %.3fs",
                key,
                wait,
                served,
                slot.delay,
            )
        tries = request.meta.get("pacing_429", 0) + 1
        if tries > self.max_429:
            raise RateLimited(f"still 429 after {self.max_429} pauses: {request.url}")
        retry = request.replace(dont_filter=True)
        retry.meta["pacing_429"] = tries
        return retry

    def _clamp(self, delay: float) -> float:
        return min(self.max_delay, max(self.min_delay, delay))

    def _speed_up(self, slot: Any, pace: _Pace, now: float) -> None:
        if slot.delay <= self.min_delay:
            return  # at the floor (or a configured lower delay): leave it
        if pace.ceiling is None:
            slot.delay = self._clamp(slot.delay * self.start_probe)
            return
        target = self._clamp(1.0 / (pace.ceiling * self.margin))
        if slot.delay > target:
            slot.delay = max(target, slot.delay * self.probe)
        elif now - pace.last_event >= self.probe_every:
            pace.ceiling *= pace.step
            pace.last_event = now


def body_is_complete(response: Response, expect: str) -> str | None:
    """None when the body parses as a complete ``expect`` document, else the reason."""
    body = response.body
    if expect == "xml":
        try:
            etree.fromstring(body, _XML_PARSER)
        except etree.XMLSyntaxError as exc:
            return f"truncated or malformed XML ({len(body)} bytes): {exc}"
    elif expect == "json":
        try:
            json.loads(body.decode("utf-8", errors="replace"), strict=False)
        except ValueError as exc:
            return f"truncated or malformed JSON ({len(body)} bytes): {exc}"
    return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, timeouts, data loss) plus incomplete bodies, with backoff."""

    def __init__(self, settings: Any):
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffRetryMiddleware:
        o = cls(crawler.settings)
        o.crawler = crawler
        return o

    async def process_request(self, request: Request) -> None:
        wait = request.meta.get("retry_at", 0) - time.monotonic()
        if wait > 0:
            from twisted.internet import reactor, task  # the reactor Scrapy installed

            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))

    def process_response(
        self,
        request: Request,
        response: Response,
        spider: Spider | None = None,  # as the parent's; optional, so Scrapy never passes it
    ) -> Request | Response:
        result = super().process_response(request, response)
        if result is not response or response.status != 200:
            return result
        expect = request.meta.get("expect")
        reason = body_is_complete(response, expect) if expect else None
        if reason is None:
            return response
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("retry/incomplete_body")
        retry = self._retry(request, reason)
        if retry is None:
            raise IncompleteResponse(reason)
        return retry

    def _retry(self, request: Request, reason: Any) -> Request | None:
        retry = super()._retry(request, reason)
        if retry is not None:
            n = retry.meta.get("retry_times", 1)
            retry.meta["retry_at"] = time.monotonic() + min(self.cap, self.base * 2 ** (n - 1))
        return retry
