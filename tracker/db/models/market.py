"""Market summaries: the contract facts added up once for the supplier, buyer and
director market pages (``tracker.market.facts``), and a buyer's notices as its page reads
them (``tracker.market.buyer_notices``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db.types import Base, intpk


# The contract facts added up once for the market pages (tracker.market.facts; bench/market.py:
# the busiest buyer and the director page otherwise add up tens of thousands of contracts per
# request). Refreshed by the derive step for the parties it touched, and whole by
# ``tracker derive``; values per currency and value kind, shared ceilings counted, not summed.
class MarketPartyFact(Base):
    """Awarded contracts of one buyer or supplier per award year, main CPV, currency and
    value kind: counts and the sum of own values (``tracker.market.common.value_columns``)."""

    __tablename__ = "market_party_facts"

    id: Mapped[intpk]
    role: Mapped[str] = mapped_column(String(16))
    party_key: Mapped[str] = mapped_column(String(600))
    year: Mapped[int | None] = mapped_column(Integer)
    main_cpv: Mapped[str | None] = mapped_column(String(10))
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    with_value: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketPartyPair(Base):
    """Awarded contracts of one buyer or supplier with one counterpart (a supplier of the
    buyer, a buyer of the supplier) per currency and value kind."""

    __tablename__ = "market_party_pairs"

    id: Mapped[intpk]
    role: Mapped[str] = mapped_column(String(16))
    party_key: Mapped[str] = mapped_column(String(600))
    other_key: Mapped[str] = mapped_column(String(600))
    other_name: Mapped[str | None] = mapped_column(String(500))
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    with_value: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketAccountMonth(Base):
    """Awarded contracts at one account (links not rejected) per award month and currency:
    the share of wallet's 'all awarded value' (kind tender, own values) and frameworks."""

    __tablename__ = "market_account_months"

    id: Mapped[intpk]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    year: Mapped[int | None] = mapped_column(Integer)
    month: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    contracts: Mapped[int] = mapped_column(Integer)
    spend_n: Mapped[int] = mapped_column(Integer)
    spend: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    frameworks: Mapped[int] = mapped_column(Integer)


class MarketExpiryMonth(Base):
    """Awarded contracts by the month of their hard expiry (``coalesce(latest_end,
    end_date)``), at our accounts or not, per currency and value kind."""

    __tablename__ = "market_expiry_months"

    id: Mapped[intpk]
    at_accounts: Mapped[bool] = mapped_column(Boolean)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    own_n: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketBuyerNotice(Base):
    """A buyer's notice as its page reads it (``tracker.market.buyer_notices``): an award
    notice with the tenders received (``kind`` result), a competition lot whose criteria
    weights sum to 100 % with its price weight (competition), a modification notice."""

    __tablename__ = "market_buyer_notices"

    id: Mapped[intpk]
    orgnr: Mapped[str | None] = mapped_column(String(9))
    notice_pk: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # result|competition|modification
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    lot_id: Mapped[str | None] = mapped_column(String(32))
    lots: Mapped[int | None] = mapped_column(Integer)
    tenders: Mapped[int | None] = mapped_column(Integer)
    price_weight: Mapped[float | None] = mapped_column(Float)


# Per supplier (tracker.market.supplier_facts): what the director's page counts of "ours"
# (a setting: our orgnrs, which are our suppliers' party keys) read from the summaries of our
# keys instead of from our contracts (the largest supplier holds 9,000 of 100,000).
class MarketSupplierExpiry(Base):
    """``market_expiry_months`` per supplier: awarded contracts of one supplier by the
    month of their hard expiry, at our accounts or not, per currency and value kind."""

    __tablename__ = "market_supplier_expiry"
    __table_args__ = (
        Index("ix_market_supplier_expiry_key_month", "supplier_key", "year", "month"),
        Index("ix_market_supplier_expiry_year_month", "year", "month"),
    )

    id: Mapped[intpk]
    supplier_key: Mapped[str] = mapped_column(String(600))
    at_accounts: Mapped[bool] = mapped_column(Boolean)
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    value_kind: Mapped[str | None] = mapped_column(String(16))
    contracts: Mapped[int] = mapped_column(Integer)
    own_n: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


class MarketSupplierMonth(Base):
    """``market_account_months`` per supplier: awarded contracts of one supplier at one
    account (links not rejected) per award month and currency."""

    __tablename__ = "market_supplier_months"
    __table_args__ = (
        Index("ix_market_supplier_months_key_month", "supplier_key", "year", "month"),
        Index("ix_market_supplier_months_account_id", "account_id"),
    )

    id: Mapped[intpk]
    supplier_key: Mapped[str] = mapped_column(String(600))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    year: Mapped[int | None] = mapped_column(Integer)
    month: Mapped[int | None] = mapped_column(Integer)
    currency: Mapped[str | None] = mapped_column(String(3))
    contracts: Mapped[int] = mapped_column(Integer)
    spend_n: Mapped[int] = mapped_column(Integer)
    spend: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    frameworks: Mapped[int] = mapped_column(Integer)


class MarketSupplierNotice(Base):
    """Awarded contracts of one supplier from one award notice (source ``notice``), with
    the year the notice was issued (else the award date): the award notices naming a
    supplier per year are the notices whose rows add up to contracts."""

    __tablename__ = "market_supplier_notices"
    __table_args__ = (
        Index("ix_market_supplier_notices_key_year", "supplier_key", "year", "notice_pk"),
    )

    id: Mapped[intpk]
    supplier_key: Mapped[str] = mapped_column(String(600))
    notice_pk: Mapped[int] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    contracts: Mapped[int] = mapped_column(Integer)
    with_value: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(24, 2))
    shared: Mapped[int] = mapped_column(Integer)


# Per buyer (tracker.market.buyer_terms): the buyer page's terms, options, extension habit and
# procedures, which read every contract of the buyer (8,000 for the busiest) otherwise.
class MarketBuyerTerm(Base):
    """Awarded contracts of one buyer per base term and option term in days (None where
    unknown), and for those with options the month their base period ends and whether
    they show an extension: counts of contracts, frameworks and modified contracts."""

    __tablename__ = "market_buyer_terms"
    __table_args__ = (Index("ix_market_buyer_terms_buyer_key", "buyer_key"),)

    id: Mapped[intpk]
    buyer_key: Mapped[str] = mapped_column(String(600))
    base_days: Mapped[int | None] = mapped_column(Integer)
    option_days: Mapped[int | None] = mapped_column(Integer)
    end_year: Mapped[int | None] = mapped_column(Integer)
    end_month: Mapped[int | None] = mapped_column(Integer)
    extended: Mapped[bool | None] = mapped_column(Boolean)
    contracts: Mapped[int] = mapped_column(Integer)
    frameworks: Mapped[int] = mapped_column(Integer)
    modified: Mapped[int] = mapped_column(Integer)


class MarketBuyerProcedure(Base):
    """Awarded contracts of one buyer per procedure type and procedure (its id, else the
    notice's key): a buyer's procedures of a type are those whose rows add up to contracts."""

    __tablename__ = "market_buyer_procedures"
    __table_args__ = (
        Index("ix_market_buyer_procedures_key", "buyer_key", "procedure_type", "ident"),
    )

    id: Mapped[intpk]
    buyer_key: Mapped[str] = mapped_column(String(600))
    procedure_type: Mapped[str | None] = mapped_column(String(32))
    ident: Mapped[str | None] = mapped_column(String(64))
    contracts: Mapped[int] = mapped_column(Integer)
