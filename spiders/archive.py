"""Compressed archives of notices: stream to disk, read member by member.

A source that publishes a day's notices as one archive (TED's daily packages, Doffin's
daily notice archive) is read with one request per day instead of one per notice. In
the manner of kingfisher-collect's compressed-file spider, every member becomes an
item of its own; unlike it, the archive is never held in memory:

- ``ArchiveDownloadHandler`` (the ``http``/``https`` download handler) streams the body
  of a request marked ``meta["archive"]`` to a temporary file (64 KiB chunks) and
  answers a ``Response`` with an empty body and ``meta["archive_path"]``; every other
  request goes through Scrapy's HTTP/1.1 handler as before. It runs inside the
  downloader, so download delays, concurrency, retries and 429 pacing still apply.
- ``iter_members(path)`` reads a zip (random access from the file) or a tar / tar.gz
  (``r|*``: one pass, one member in memory at a time); a member that cannot be read is
  yielded with its error, a truncated archive raises ``ArchiveTruncated`` after the
  members read before the damage.
- ``ArchiveSpider`` (a ``DateSlicedSpider``): one archive request per day; every member
  is stored (``NoticeItem``), skipped (not a notice the tracker reads) or recorded as
  failed (``FetchFailureItem``, retried next run through the per-notice URL); a damaged
  archive leaves its day incomplete (listed again next run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import scrapy
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.http import Headers, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads
from twisted.internet.error import ConnectionLost, TimeoutError  # noqa: A004
from twisted.python.failure import Failure

from spiders.base import DateSlicedSpider, failure_reason, root_name
from spiders.items import FetchFailureItem, NoticeItem

CHUNK = 64 * 1024
# A notice is tens of KB, the largest seen a few MB: a bigger member is refused
# (a zip bomb or not a notice), recorded as a failed member.
DEFAULT_MEMBER_MAXSIZE = 64 * 1024 * 1024


class ArchiveTruncated(Exception):
    """The archive ended or broke before its last member."""


# --------------------------------------------------------------------------- download


def _stream_to_file(
    url: str, method: str, headers: dict[str, str], timeout: float, directory: str | None
) -> tuple[int, dict[str, list[str]], str | None, bytes]:
    """(status, headers, path of the body on disk or None, small body of an error)."""
    with (
        httpx.Client(timeout=timeout, follow_redirects=True) as client,
        client.stream(method, url, headers=headers) as r,
    ):
        hdrs: dict[str, list[str]] = {}
        for k, v in r.headers.multi_items():
            # The body on disk is the raw archive: no decoding by HttpCompressionMiddleware.
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding"):
                hdrs.setdefault(k, []).append(v)
        if r.status_code != 200:
            return r.status_code, hdrs, None, r.read()[:65536]
        fd, path = tempfile.mkstemp(prefix="tracker-archive-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in r.iter_raw(CHUNK):
                    out.write(chunk)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        return r.status_code, hdrs, path, b""


class ArchiveDownloadHandler(HTTP11DownloadHandler):
    """HTTP(S) handler that streams archive bodies to disk (``meta["archive"]``)."""

    async def download_request(self, request: scrapy.Request) -> Response:
        if not request.meta.get("archive"):
            return await super().download_request(request)
        settings = self._crawler.settings
        # ARCHIVE_TIMEOUT, not DOWNLOAD_TIMEOUT: a day's archive is far bigger than a notice.
        timeout = settings.getfloat("ARCHIVE_TIMEOUT", 600.0)
        headers = {k.decode(): b",".join(v).decode() for k, v in request.headers.items()}
        try:
            status, hdrs, path, body = await maybe_deferred_to_future(
                threads.deferToThread(
                    _stream_to_file,
                    request.url,
                    request.method,
                    headers,
                    timeout,
                    settings.get("ARCHIVE_TEMP_DIR") or None,
                )
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{request.url}: {exc}") from exc
        except httpx.TransportError as exc:  # refused, reset, body short of its length
            raise ConnectionLost(f"{request.url}: {type(exc).__name__}: {exc}") from exc
        if path is not None:
            request.meta["archive_path"] = path
        return Response(
            request.url,
            status=status,
            headers=Headers(hdrs),
            body=body,
            request=request,
            flags=["archive"] if path else [],
        )


# --------------------------------------------------------------------------- reading


def _read_limited(fh: Any, limit: int, name: str) -> bytes:
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{name}: larger than {limit} bytes")
    return data


def iter_members(
    path: str, member_maxsize: int = DEFAULT_MEMBER_MAXSIZE
) -> Iterator[tuple[str, bytes | Exception]]:
    """(member name, its bytes or the error reading it) for each file in the archive.

    zip, tar, tar.gz/bz2/xz by content (not by name). Raises ``ArchiveTruncated`` when
    the archive breaks off, after yielding what came before; ``ValueError`` when the
    file is no archive at all.
    """
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        yield from _zip_members(path, member_maxsize)
    else:
        yield from _tar_members(path, member_maxsize)


def _zip_members(path: str, member_maxsize: int) -> Iterator[tuple[str, bytes | Exception]]:
    """The members of a zip file (random access: a bad member does not stop the rest)."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ArchiveTruncated(f"zip: {exc}") from exc
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.file_size > member_maxsize:
                yield info.filename, ValueError(f"{info.file_size} bytes, over the limit")
                continue
            try:
                with archive.open(info) as member:
                    yield info.filename, _read_limited(member, member_maxsize, info.filename)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                yield info.filename, exc


def _tar_members(path: str, member_maxsize: int) -> Iterator[tuple[str, bytes | Exception]]:
    """The members of a tar, tar.gz/bz2/xz (``r|*``: one pass, one member in memory)."""
    try:
        stream = tarfile.open(path, mode="r|*")  # noqa: SIM115 - closed by the with below
    except tarfile.TarError as exc:
        raise ValueError(f"not a zip or tar archive ({exc})") from exc
    with stream:
        try:
            for info in stream:
                if not info.isfile():
                    continue
                if info.size > member_maxsize:
                    yield info.name, ValueError(f"{info.size} bytes, over the limit")
                    continue
                member = stream.extractfile(info)
                if member is None:
                    continue
                yield info.name, _read_limited(member, member_maxsize, info.name)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise ArchiveTruncated(f"tar: {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------- spider


class ArchiveSpider(DateSlicedSpider):
    """One archive per day; each member is a notice stored, skipped or failed.

    A subclass sets, under "# ArchiveSpider":

    - ``archive_request(day)``: the archive of one day (None: no archive that day),
    - ``member_id(name)``: the source id of a member (None: not a notice, e.g. a
      readme or a directory),
    - ``download_url(source_id, meta)``: where one notice is fetched on its own (a
      failed member is retried there by the next run).

    ``archive_missing(day, failure)`` decides what a failed archive request means: the
    default leaves the day incomplete; a subclass may fall back to another way.
    """

    def day_requests(self, day: dt.date) -> list[scrapy.Request]:
        request = self.archive_request(day)
        if request is None:
            return []
        request.meta.update(archive=True, expect="archive")
        request.callback = self.parse_archive
        request.errback = self.archive_failed
        request.dont_filter = True
        return [request]

    # ArchiveSpider
    def archive_request(self, day: dt.date) -> scrapy.Request | None:
        raise NotImplementedError

    def member_id(self, name: str) -> str | None:
        raise NotImplementedError

    def member_meta(self, name: str, day: dt.date) -> dict[str, Any]:
        source_id = self.member_id(name) or ""
        return {
            "archiveMember": os.path.basename(name),
            "issueDay": day.isoformat(),
            "download_url": self.download_url(source_id, {}),
        }

    def archive_missing(self, day: dt.date, failure: Failure) -> Iterator[Any]:
        self.logger.warning(
            "%s %s archive failed: %s", self.tracker_source, day, failure_reason(failure)
        )
        self.days[day].listed = False
        return iter(())

    # ------------------------------------------------------------------ callbacks

    def parse_archive(self, response: Response) -> Iterator[Any]:
        day: dt.date = response.meta["day"]
        path = response.meta.get("archive_path")
        state = self.days[day]
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("tracker/ok_responses")
        stats.inc_value("archive/archives")
        maxsize = self.settings.getint("ARCHIVE_MEMBER_MAXSIZE", DEFAULT_MEMBER_MAXSIZE)
        try:
            if path is None:
                raise ValueError("the archive body was not saved (no archive_path)")
            for name, data in iter_members(path, maxsize):
                source_id = self.member_id(name)
                if source_id is None:
                    stats.inc_value("archive/members_ignored")
                    continue
                if source_id in state.seen:
                    stats.inc_value("archive/duplicate_members")
                    continue
                state.seen.add(source_id)
                state.ids.append(source_id)
                stats.inc_value("archive/members")
                if source_id in self.queued:  # a failure of an earlier run, retried on its own
                    continue
                meta = self.member_meta(name, day)
                if isinstance(data, Exception):
                    yield self._member_failed(source_id, day, meta, f"{name}: {data}")
                    continue
                root = root_name(data)
                if root not in self.notice_roots:
                    if root is None:
                        yield self._member_failed(source_id, day, meta, f"{name}: not XML")
                    else:
                        stats.inc_value("notices/skipped_not_eforms")
                        state.skipped.append(source_id)
                    continue
                yield NoticeItem(
                    source=self.tracker_source,
                    source_id=source_id,
                    url=f"{response.url}#{os.path.basename(name)}",
                    xml=data,
                    day=day,
                    meta=meta,
                )
        except (ArchiveTruncated, ValueError, OSError) as exc:
            stats.inc_value("archive/damaged")
            self.logger.warning(
                "%s %s: archive %s damaged after %d member(s): %s; day left incomplete",
                self.tracker_source,
                day,
                response.url,
                len(state.ids),
                exc,
            )
            state.listed = False
        finally:
            if path:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        yield from self.settle(day)

    def _member_failed(
        self, source_id: str, day: dt.date, meta: dict[str, Any], reason: str
    ) -> FetchFailureItem:
        self.crawler.stats.inc_value("archive/members_failed")  # type: ignore[union-attr]
        return FetchFailureItem(
            source=self.tracker_source,
            source_id=source_id,
            reason=f"archive member: {reason}",
            day=day,
            meta=meta,
        )

    def archive_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        day = request.meta.get("day")
        path = request.meta.get("archive_path")
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if day in self.days:
            yield from self.archive_missing(day, failure)
        yield from self.settle(day, True)
