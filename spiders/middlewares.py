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
from typing import TYPE_CHECKING, Any

from lxml import etree
from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future

from spiders.exceptions import IncompleteResponse, RateLimited
from spiders.secret import Secret

if TYPE_CHECKING:
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


class AdaptivePacingMiddleware:
    """Keep close to the rate the server allows; honour 429 + Retry-After."""

    def __init__(self, crawler: Crawler):
        s = crawler.settings
        self.crawler = crawler
        self.min_delay = s.getfloat("PACING_MIN_DELAY")
        self.max_delay = s.getfloat("PACING_MAX_DELAY")
        self.default_wait = s.getfloat("PACING_DEFAULT_RETRY_AFTER")
        self.max_wait = s.getfloat("PACING_MAX_RETRY_AFTER")
        self.max_429 = s.getint("PACING_MAX_429_PER_REQUEST")
        self.margin = s.getfloat("PACING_RATE_MARGIN")
        self.probe = s.getfloat("PACING_PROBE_FACTOR")
        self.window = 5.0
        self.ok_times: dict[str, deque[float]] = {}
        self.paused_until: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AdaptivePacingMiddleware:
        return cls(crawler)

    def _slot(self, request: Request) -> tuple[str, Any]:
        downloader = self.crawler.engine.downloader  # type: ignore[union-attr]
        key = downloader.get_slot_key(request)
        return key, downloader.slots.get(key)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        key, slot = self._slot(request)
        now = time.monotonic()
        stats = self.crawler.stats
        if response.status != 429:
            times = self.ok_times.setdefault(key, deque())
            times.append(now)
            while times and times[0] < now - self.window:
                times.popleft()
            if slot is not None and now >= self.paused_until.get(key, 0):
                slot.delay = max(self.min_delay, slot.delay * self.probe)
            return response
        assert stats is not None
        stats.inc_value("pacing/429")
        wait = min(
            self.max_wait,
            retry_after_seconds(
                response.headers.get("Retry-After"), self.default_wait, dt.datetime.now(dt.UTC)
            ),
        )
        if slot is not None and now >= self.paused_until.get(key, 0):
            # First 429 of this pause: slow down to just under the rate being served.
            recent = [t for t in self.ok_times.get(key) or () if t >= now - self.window]
            span = max(now - recent[0], 0.5) if recent else self.window
            served = len(recent) / span
            if served > 0:
                delay = 1.0 / (served * self.margin)
            else:
                delay = max(slot.delay, self.min_delay) * 1.5
            slot.delay = min(self.max_delay, max(self.min_delay, delay, slot.delay))
            self.paused_until[key] = now + wait
            # The downloader waits ``delay - (now - lastseen)``: a lastseen in the future pauses.
            slot.lastseen = now + wait - slot.delay
            stats.set_value("pacing/delay", round(slot.delay, 4))
            logger.info("429 from %s: pausing %.1fs, delay now %.3fs", key, wait, slot.delay)
        tries = request.meta.get("pacing_429", 0) + 1
        if tries > self.max_429:
            raise RateLimited(f"still 429 after {self.max_429} pauses: {request.url}")
        retry = request.replace(dont_filter=True)
        retry.meta["pacing_429"] = tries
        return retry


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

    def process_response(self, request: Request, response: Response) -> Request | Response:
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
