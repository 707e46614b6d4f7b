"""Configuration in one place: environment variables, then an optional TOML file.

Precedence: environment variable > config file > default. The config file is
``$TRACKER_CONFIG`` or ``$TRACKER_HOME/config.toml`` when it exists. Every key is
listed in ``SETTINGS`` with its environment variable and its meaning; the README's
configuration table is generated from that list (``tracker config --markdown``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    default: Any
    help: str
    secret: bool = False


SETTINGS: list[Setting] = [
    Setting("home", "TRACKER_HOME", "./var", "Data directory (SQLite file, secrets, backups)."),
    Setting(
        "database_url",
        "TRACKER_DATABASE_URL",
        None,
        "SQLAlchemy URL; default sqlite:///$TRACKER_HOME/tracker.db",
        secret=True,
    ),
    Setting("doffin_api_key", "DOFFIN_API_KEY", None, "Doffin subscription key.", secret=True),
    Setting("doffin_api_url", "DOFFIN_API_URL", "https://api.doffin.no/public", "Doffin API base."),
    Setting("ted_api_url", "TED_API_URL", "https://api.ted.europa.eu", "TED API base."),
    Setting(
        "ted_package_url",
        "TED_PACKAGE_URL",
        "https://ted.europa.eu/packages/daily",
        "TED daily packages (one tar.gz per Official Journal issue, {url}/YYYYNNNNN).",
    ),
    Setting(
        "doffin_archive_url",
        "DOFFIN_ARCHIVE_URL",
        None,
        "Doffin daily notice archive ({url}/YYYY-MM-DD.zip); unset: the public API only.",
    ),
    Setting("doffin_archive_user", "DOFFIN_ARCHIVE_USER", None, "Doffin archive user (Basic)."),
    Setting(
        "doffin_archive_password",
        "DOFFIN_ARCHIVE_PASSWORD",
        None,
        "Doffin archive password (Basic).",
        secret=True,
    ),
    Setting(
        "brreg_api_url",
        "BRREG_API_URL",
        "https://data.brreg.no/enhetsregisteret/api",
        "Enhetsregisteret API base.",
    ),
    Setting("rules_file", "TRACKER_RULES", None, "User rules file overriding tracker/rules.toml."),
    Setting(
        "our_orgnrs",
        "TRACKER_OUR_ORGNRS",
        "",
        "Our own orgnr(s), comma separated ('us' as incumbent).",
    ),
    Setting(
        "central_purchasing_file",
        "TRACKER_CENTRAL_PURCHASING",
        None,
        "YAML map of central purchasing bodies and whom they buy for (see "
        "examples/central_purchasing.yaml); default: tracker/data/central_purchasing.yaml.",
    ),
    Setting(
        "session_secret",
        "TRACKER_SESSION_SECRET",
        None,
        "Cookie signing secret; generated into $TRACKER_HOME on first run if absent.",
        secret=True,
    ),
    Setting(
        "base_url", "TRACKER_BASE_URL", "http://127.0.0.1:8000", "Public URL of the dashboard."
    ),
    Setting(
        "trusted_proxies",
        "TRACKER_TRUSTED_PROXIES",
        "",
        "Reverse proxies (IPs or networks, comma separated) whose X-Forwarded-For and "
        "X-Forwarded-Proto the dashboard believes (the login limit then counts the real "
        "client); empty: those headers are ignored. Also `tracker serve --trusted-proxies`.",
    ),
    Setting(
        "login_delay_seconds",
        "TRACKER_LOGIN_DELAY_SECONDS",
        2,
        "First wait after the free failed logins (5 per e-mail and address, 20 per address, "
        "20 per e-mail); doubles per further failure, at most 15 min (1 min per e-mail).",
    ),
    Setting(
        "max_request_bytes",
        "TRACKER_MAX_REQUEST_BYTES",
        1_048_576,
        "Largest request body the dashboard reads (bytes); larger ones get 413 unread.",
    ),
    Setting("smtp_host", "TRACKER_SMTP_HOST", None, "SMTP server for e-mail alerts."),
    Setting("smtp_port", "TRACKER_SMTP_PORT", 587, "SMTP port."),
    Setting("smtp_tls", "TRACKER_SMTP_TLS", "starttls", "none, starttls or ssl."),
    Setting("smtp_user", "TRACKER_SMTP_USER", None, "SMTP user name."),
    Setting("smtp_password", "TRACKER_SMTP_PASSWORD", None, "SMTP password.", secret=True),
    Setting("smtp_from", "TRACKER_SMTP_FROM", "tracker@localhost", "Sender address of alerts."),
    Setting(
        "today",
        "TRACKER_TODAY",
        None,
        "Date (YYYY-MM-DD) the dashboards treat as today; default the real date (demos, tests).",
    ),
    Setting("schedule_time", "TRACKER_SCHEDULE_TIME", "06:00", "Daily cycle time (HH:MM, local)."),
    Setting(
        "workers",
        "TRACKER_WORKERS",
        1,
        "Processes the daily cycle and 'tracker recompute' build the opportunities in (the "
        "machine's cores on a large database: 2 halve the time at 2 M notices).",
    ),
    # Operations (scheduler, lock, alerts): tracker.db.locks, tracker.ops.cycle,
    # tracker.alerts.delivery.
    Setting(
        "lock_stale_seconds",
        "TRACKER_LOCK_STALE_SECONDS",
        900,
        "A scheduler lock without heartbeat for this long is taken over (crashed holder).",
    ),
    Setting(
        "heartbeat_seconds",
        "TRACKER_HEARTBEAT_SECONDS",
        60,
        "How often the lock holder refreshes its heartbeat (well below lock_stale_seconds).",
    ),
    Setting(
        "step_retries",
        "TRACKER_STEP_RETRIES",
        2,
        "Retries of a failed cycle step (after the first attempt).",
    ),
    Setting(
        "step_backoff_seconds",
        "TRACKER_STEP_BACKOFF_SECONDS",
        30,
        "Wait before the first retry of a failed step; doubles on each retry.",
    ),
    Setting(
        "alert_backoff_seconds",
        "TRACKER_ALERT_BACKOFF_SECONDS",
        300,
        "Wait before resending an alert whose channel failed; doubles per attempt, max 6 h.",
    ),
    Setting(
        "smtp_ca_file",
        "TRACKER_SMTP_CA_FILE",
        None,
        "CA certificate file (PEM) trusted for the SMTP server's TLS, e.g. an internal CA.",
    ),
    Setting(
        "alert_timeout_seconds",
        "TRACKER_ALERT_TIMEOUT_SECONDS",
        20,
        "Timeout of one SMTP or webhook delivery.",
    ),
]


def _coerce(default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"expected an integer, got {value!r}") from exc
    return value


@dataclass
class Settings:
    """Resolved configuration. Attribute names are the keys of ``SETTINGS``."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    config_file: Path | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc

    @property
    def home_path(self) -> Path:
        return Path(self.values["home"]).expanduser()

    @property
    def db_url(self) -> str:
        url = self.values.get("database_url")
        if url:
            return url
        return f"sqlite:///{(self.home_path / 'tracker.db').resolve()}"

    @property
    def our_orgnr_list(self) -> list[str]:
        raw = self.values.get("our_orgnrs") or ""
        if isinstance(raw, list):
            return [str(x).strip() for x in raw if str(x).strip()]
        return [x.strip() for x in str(raw).split(",") if x.strip()]

    def today(self) -> dt.date:
        """The date treated as today: setting ``today`` (TRACKER_TODAY), else the real date."""
        raw = self.values.get("today")
        if not raw:
            return dt.date.today()
        if isinstance(raw, dt.date):
            return raw
        try:
            return dt.date.fromisoformat(str(raw))
        except ValueError as exc:
            raise ConfigError(
                f"today ({self.sources.get('today')}): {raw!r} is not YYYY-MM-DD"
            ) from exc

    def redacted(self) -> dict[str, Any]:
        """Values safe to print or log: secrets shown as set/unset only."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            v = self.values.get(s.key)
            out[s.key] = ("***" if v else None) if s.secret else v
        return out


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Resolve settings from ``env`` (default ``os.environ``) and the config file."""
    env = dict(os.environ if env is None else env)
    home = env.get("TRACKER_HOME", "./var")
    cfg_path = env.get("TRACKER_CONFIG") or str(Path(home).expanduser() / "config.toml")
    file_values: dict[str, Any] = {}
    config_file: Path | None = None
    p = Path(cfg_path)
    if p.is_file():
        try:
            file_values = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
        config_file = p
        known = {s.key for s in SETTINGS}
        extra = {k for k, v in file_values.items() if not isinstance(v, dict)} - known
        if extra:
            raise ConfigError(f"{p}: unknown key(s): {', '.join(sorted(extra))}")
    elif env.get("TRACKER_CONFIG"):
        raise ConfigError(f"{p}: config file named by TRACKER_CONFIG does not exist")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for s in SETTINGS:
        if s.env in env and env[s.env] != "":
            raw, src = env[s.env], f"env {s.env}"
        elif s.key in file_values:
            raw, src = file_values[s.key], f"file {p}"
        else:
            raw, src = s.default, "default"
        try:
            values[s.key] = _coerce(s.default, raw) if raw is not None else None
        except ConfigError as exc:
            raise ConfigError(f"{s.key} ({src}): {exc}") from exc
        sources[s.key] = src
    # Sections (tables) of the config file, e.g. [alerts], are kept for the modules that own them.
    for k, v in file_values.items():
        if isinstance(v, dict):
            values[k] = v
            sources[k] = f"file {p}"
    return Settings(values=values, sources=sources, config_file=config_file)


# --------------------------------------------------------------------------- session secret

MIN_SESSION_SECRET = 32


def session_secret_problem(settings: Settings) -> str | None:
    """Why the session secret cannot be used, or None (never creates anything)."""
    configured = settings.values.get("session_secret")
    if configured:
        if len(str(configured)) < MIN_SESSION_SECRET:
            return (
                f"session_secret ({settings.sources.get('session_secret')}) is shorter than "
                f"{MIN_SESSION_SECRET} characters"
            )
        return None
    path = settings.home_path / "session_secret"
    if not path.exists():
        return None  # generated on the first start of the web app
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        return f"{path}: cannot read: {exc.strerror or exc}"
    if len(secret) < MIN_SESSION_SECRET:
        return (
            f"{path}: session secret is shorter than {MIN_SESSION_SECRET} characters; "
            "delete it to regenerate"
        )
    return None


def session_secret(settings: Settings) -> str:
    """The configured secret, else ``$TRACKER_HOME/session_secret``, created 0600 (home
    0700) on first use. The file appears complete or not at all (written to a temporary
    file, then hard-linked into place), so web workers starting together on a fresh home
    all read the same secret. Raises ``ConfigError`` for a secret that is too short."""
    problem = session_secret_problem(settings)
    if problem:
        raise ConfigError(problem)
    configured = settings.values.get("session_secret")
    if configured:
        return str(configured)
    path = settings.home_path / "session_secret"
    if not path.exists():
        import secrets

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".session_secret.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(tmp, path)  # atomic: the file appears complete
        finally:
            tmp.unlink(missing_ok=True)
    secret = path.read_text(encoding="utf-8").strip()
    if len(secret) < MIN_SESSION_SECRET:
        raise ConfigError(session_secret_problem(settings) or f"{path}: session secret too short")
    return secret
