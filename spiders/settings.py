"""Scrapy settings: polite defaults; every non-default setting says why.

URLs, the Doffin key and the database come from ``tracker.config.load_settings()``
(environment, then the config file), the same place as the rest of the product.
Tests and the benchmark override delays and timeouts with ``-s NAME=value``.
"""

from __future__ import annotations

from spiders.secret import Secret
from tracker.config import load_settings

_cfg = load_settings()

BOT_NAME = "tender-tracker"
SPIDER_MODULES = ["spiders.sources"]  # one spider per source file
NEWSPIDER_MODULE = "spiders.sources"  # where `scrapy genspider` puts a new source

# Identify ourselves: the APIs are public services run by agencies.
USER_AGENT = "tender-tracker/0.1 (public-tender harvester; python-scrapy)"

# --- where to crawl (tracker configuration, not Scrapy's)
DOFFIN_API_URL = _cfg.doffin_api_url.rstrip("/")
DOFFIN_API_KEY = Secret(_cfg.doffin_api_key)  # prints as *** anywhere it could be logged
TED_API_URL = _cfg.ted_api_url.rstrip("/")
TED_PACKAGE_URL = _cfg.ted_package_url.rstrip("/")
# Official Journal S issues appear Monday to Friday (0-4); TED_PACKAGE_WEEKDAYS and
# TED_PACKAGE_NO_ISSUE (YYYY-MM-DD,... holidays without an issue) number them.
TED_PACKAGE_WEEKDAYS = "0,1,2,3,4"
TED_PACKAGE_NO_ISSUE = ""
DOFFIN_ARCHIVE_URL = (_cfg.doffin_archive_url or "").rstrip("/")
DOFFIN_ARCHIVE_USER = _cfg.doffin_archive_user or ""
DOFFIN_ARCHIVE_PASSWORD = Secret(_cfg.doffin_archive_password or "")
BRREG_API_URL = _cfg.brreg_api_url.rstrip("/")
TRACKER_DATABASE_URL = Secret(_cfg.db_url)  # may hold a password
TRACKER_TODAY = _cfg.values.get("today")  # fixed "today" for demos and tests (None: real date)
# The rules file's text the crawl derives contracts with; None: this machine's rules file.
# tracker crawl --scrapyd passes its own, so every node derives as the coordinator does.
TRACKER_RULES_TOML = None
TRACKER_RUN_ID_FILE = None  # tracker.ops.crawl passes a file to learn the run id

# Doffin search paging: 100 hits a page (the API's maximum) and at most 1,000 hits a
# query; tests scale both down to exercise paging and day splitting on a few notices.
DOFFIN_PAGE_SIZE = 100
DOFFIN_HIT_CAP = 1000

# --- politeness and pacing
# Doffin answers 429 after ~30 quick requests and sustains 2-3 requests/s: start at
# 2.5/s and let AdaptivePacingMiddleware find the rate the server allows.
DOWNLOAD_DELAY = 0.4
# Exact spacing: jitter makes bursts that trip rate limits.
DOWNLOAD_DELAY_JITTER = 0
# A couple of requests in flight hide latency; the delay, not concurrency, sets the rate.
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# AutoThrottle tunes on latency only and fights the 429-driven pacing below.
AUTOTHROTTLE_ENABLED = False
PACING_MIN_DELAY = 0.2  # never faster than 5 requests/s per host, whatever the server allows
PACING_MAX_DELAY = 30.0  # slowest pace after repeated 429s (one request per 30 s)
PACING_DEFAULT_RETRY_AFTER = 10.0  # Doffin's observed Retry-After when the header is missing
PACING_MAX_RETRY_AFTER = 300.0  # do not sleep for hours on a bogus header
PACING_MAX_429_PER_REQUEST = 30  # then the request fails and is retried next run
PACING_RATE_MARGIN = 0.97  # settle just under the rate that was being served at the 429
PACING_START_PROBE_FACTOR = 0.9  # before any 429: each success shortens the delay by 10 %
PACING_PROBE_FACTOR = 0.98  # after a pause: back up to the ceiling by 2 % a success
PACING_CEILING_PROBE_SECONDS = 5.0  # then try more every 5 s without a 429: 5 %, halved
PACING_CEILING_STEP = 1.05  # after each 429 (down to 1 %), so 429s get rarer

# --- retries
# 429 is handled by the pacing middleware (pause + retry), not counted as a failure.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
RETRY_TIMES = 4  # 5 tries with backoff 1+2+4+8 s spans a short outage
RETRY_BACKOFF_BASE = 1.0  # first retry after 1 s, doubling each time
RETRY_BACKOFF_MAX = 60.0  # never wait longer than a minute between tries
# A notice is tens of KB: 60 s means the server is stuck, not slow (default 180).
DOWNLOAD_TIMEOUT = 60

# Key header, backoff retries (replacing Scrapy's immediate ones) and 429 pacing.
DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.ApiKeyMiddleware": 390,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    # Closest to the downloader so a 429 is seen before retries and stats.
    "spiders.middlewares.AdaptivePacingMiddleware": 950,
}
# Archives (TED daily packages, Doffin's daily archive) stream to a temporary file
# instead of memory (spiders.archive); other requests use Scrapy's HTTP/1.1 handler.
DOWNLOAD_HANDLERS = {
    "http": "spiders.archive.ArchiveDownloadHandler",
    "https": "spiders.archive.ArchiveDownloadHandler",
}
ARCHIVE_TEMP_DIR = None  # None: the system's temporary directory
ARCHIVE_TIMEOUT = 600  # a day's archive is tens of MB: ten minutes before giving up
ARCHIVE_MEMBER_MAXSIZE = 64 * 1024 * 1024  # a bigger member is refused (failed member)
# The database side of a crawl, so that spiders open no session (spiders.extensions).
EXTENSIONS = {
    # Days to take, ids stored, numbers to look up; what became of each id this crawl.
    "spiders.extensions.HarvestState": 100,
    # The crawl's run record: started as the spider opens, closed with its counts.
    "spiders.extensions.CrawlRun": 110,
}
# One job per pipeline, in this order (spiders.pipelines); each store takes one item kind.
ITEM_PIPELINES = {
    # Drops anything but the items of spiders.items, or one failing its checks.
    "spiders.pipelines.Validate": 100,
    # A failure's issue day into its meta, where the next run reads it.
    "spiders.pipelines.Normalise": 200,
    # FetchFailureItem: an open fetch failure, retried by the next run.
    "spiders.pipelines.StoreFailures": 300,
    # NoticeItem: the same ingest as `tracker ingest`; flushed at every HarvestDayItem.
    "spiders.pipelines.StoreNotices": 400,
    # HarvestDayItem (after StoreNotices flushed it): is every listed notice stored?
    "spiders.pipelines.CloseDays": 500,
    # RegisterItem: a Brønnøysund record applied to its organisation.
    "spiders.pipelines.StoreRegister": 600,
    # AgreementItem: agreements read from buyer pages, stored in batches.
    "spiders.pipelines.StoreAgreements": 700,
}

# --- housekeeping
# API responses are not cookies-based; cookies would only grow request headers.
COOKIES_ENABLED = False
# No remote shell or remote code execution endpoint on a harvester running on a server.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"  # DEBUG prints every request line; INFO is enough for a daily cron
