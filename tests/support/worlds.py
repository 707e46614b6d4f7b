"""Worlds that tests build in a database of their own from the real data: the example
accounts plus the real Doffin notices (ingested, so buyers are linked and contracts
derived), and the world ``make demo`` builds."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import REAL
from tracker.accounts.keyaccounts import import_accounts
from tracker.db.models import Account, Contract, ContractAccount, ContractParty
from tracker.notices.eforms import parse_notice
from tracker.notices.ingest import Ingestor, ingest_paths
from tracker.ops import demo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ACCOUNTS = EXAMPLES / "accounts.yaml"
D = dt.date


def load_real(engine: Engine, accounts: Path | None = ACCOUNTS) -> None:
    """Example accounts first, then the real notices (linking and contracts run on ingest)."""
    if accounts is not None:
        with Session(engine) as s:
            import_accounts(s, accounts)
    result = ingest_paths(engine, [REAL])
    assert result["failed"] == 0, result["failures"]


def load_world(engine: Engine, extra: list[Path] | None = None) -> None:
    """Example accounts, then the real Doffin notices (linked and derived on ingest)."""
    with Session(engine) as s:
        import_accounts(s, ACCOUNTS)
        s.commit()
    result = ingest_paths(engine, [REAL, *(extra or [])])
    assert result["failed"] == 0


def add_known_agreement(s: Session, supplier: tuple[str, str] | None = None) -> Account:
    """A diathermy agreement the KAM knows (import) at Sykehusinnkjøp HF, 2019-09-01 –
    2023-08-31, optionally with a supplier (name, orgnr); returns the account."""
    acc = s.scalars(select(Account).where(Account.name == "Sykehusinnkjøp HF")).one()
    contract = Contract(
        key="import:diatermi-2019",
        source="import",
        title="Diatermipenner og plater med tilbehør",
        main_cpv="33141000",
        start_date=D(2019, 9, 1),
        end_date=D(2023, 8, 31),
        end_source="import",
        framework=True,
    )
    s.add(contract)
    s.flush()
    s.add(
        ContractAccount(contract_id=contract.id, account_id=acc.id, method="import", confidence=1)
    )
    if supplier:
        name, orgnr = supplier
        s.add(
            ContractParty(
                contract_id=contract.id, role="supplier", party_key=orgnr, name=name, orgnr=orgnr
            )
        )
    s.commit()
    return acc


def build_demo_world(engine: Engine, today: dt.date) -> None:
    """``make demo`` without the HTTP round trip: accounts, the real notices issued up to
    ``today`` stored as the Doffin spider stores them, then the demo's own last step."""
    with Session(engine) as s:
        import_accounts(s, ACCOUNTS)
        s.commit()
    with Ingestor(engine, source="doffin") as ing:
        for path in sorted(REAL.glob("*.xml")):
            data = path.read_bytes()
            issued = parse_notice(data).issue_date
            if issued is None or issued > today:
                continue
            match = re.search(r"(\d{4}-\d{6})", path.name)
            ing.add(data, location=str(path), source_id=match and match.group(1))
        ing.flush()
    with Session(engine) as s:
        demo.finish(s, today, "demo password for tests")
        s.commit()
