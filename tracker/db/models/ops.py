"""Alerts and operations (locks, key-value state)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db.types import (
    Base,
    UTCDateTime,
    created_ts,
    intpk,
    utcnow,
)

# --------------------------------------------------------------------------- alerts and operations


class AlertSubscription(Base):
    __tablename__ = "alert_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "kind", "channel"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # email|digest|webhook
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target: Mapped[str | None] = mapped_column(String(1000))  # webhook URL
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class AlertLog(Base):
    """Every alert once: ``dedup_key`` is unique; status pending until a channel accepted it."""

    __tablename__ = "alert_log"

    id: Mapped[intpk]
    dedup_key: Mapped[str] = mapped_column(String(400), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending|sending|sent|dropped|failed (failed: a cause that will not change, e.g. a
    # refused recipient or a webhook that is gone, after ALERT_PERMANENT_ATTEMPTS tries)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    permanent_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[created_ts]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Lock(Base):
    """Named database lock (one scheduler at a time), with a heartbeat for stale recovery."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[created_ts]
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyValue(Base):
    """Small persistent state (for example the last fully harvested day per source)."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
