"""One exception root for the tracker package; one subclass per situation."""

from __future__ import annotations


class TrackerError(Exception):
    """Root of every error the tracker raises on purpose."""


class ConfigError(TrackerError):
    """A configuration value or file is invalid (raised by tracker.config and tracker.rules)."""


class DatabaseUnavailableError(TrackerError):
    """The database file is missing, the server unreachable or the URL malformed
    (tracker.db.engine)."""


class NoticeParseError(TrackerError):
    """A notice cannot be parsed (raised by tracker.notices.eforms)."""


class UnsafeXMLError(NoticeParseError):
    """A notice uses DTDs, entities or external references (raised by tracker.notices.eforms)."""


class ImportValidationError(TrackerError):
    """Rows of an import file are invalid; ``problems`` lists (row, field, message)."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]):
        self.source = source
        self.problems = problems
        lines = [
            f"{source}: row {row}: {field}: {msg}"
            if row is not None
            else f"{source}: {field}: {msg}"
            for row, field, msg in problems
        ]
        super().__init__("\n".join(lines))


class LockHeldError(TrackerError):
    """Another process holds a named database lock (raised by tracker.db.locks)."""


class LockLostError(TrackerError):
    """Our database lock was taken over or removed while we held it (raised by tracker.db.locks)."""


class AlertDeliveryError(TrackerError):
    """An alert channel refused or could not be reached (raised by tracker.alerts.channels)."""


class BackupError(TrackerError):
    """A backup or restore cannot be made (raised by tracker.ops.backup)."""


class UserError(TrackerError):
    """A user field (e-mail, role, password) is invalid or the user exists (tracker.users)."""


class LoginRateLimitedError(TrackerError):
    """Too many failed logins for an e-mail or client (raised by tracker.users.authenticate);
    ``retry_after`` is the wait in seconds."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(TrackerError):
    """The user's role does not allow this change (raised by tracker.accounts.work and bids)."""


class NotFoundError(TrackerError):
    """A requested account, notice or record does not exist (raised by tracker queries)."""
