"""One exception root for the spiders package; one subclass per situation."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest


class SpiderError(Exception):
    """Root of every error the spiders raise on purpose."""


class InvalidItem(SpiderError, ValueError):
    """An item failed validation where it was built (raised by spiders.items)."""


class SpiderArgumentError(SpiderError, ValueError):
    """A spider argument (-a name=value) is invalid (raised by the spiders' __init__)."""


class MissingExtension(SpiderError, RuntimeError):
    """An extension the spiders and pipelines read is not enabled in EXTENSIONS
    (raised by spiders.extensions.enabled)."""


class IncompleteResponse(IgnoreRequest):
    """A body stayed truncated or unparsable after every retry (spiders.middlewares)."""


class RateLimited(IgnoreRequest):
    """A request was still answered 429 after every pause (spiders.middlewares)."""
