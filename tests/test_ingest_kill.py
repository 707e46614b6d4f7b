"""kill -9 during ``tracker ingest``, then a rerun: every table equals a clean ingest.

The corpus is the 57 real notices copied with new notice-ids (570 notices), with the
example accounts imported, so the ingest derives account links, contracts, contract
parties and contract accounts. The ingest runs as a real ``tracker ingest``
subprocess and is killed with SIGKILL four times at different points of a unit of
work (inside derivation, right after a commit, while child rows are written, and at
a moment chosen from outside); each run starts after the previous one died, and a
last run completes. Every table (contracts and contract parties included) is then
compared with a clean ingest of the same files into the same, emptied database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.conftest import REAL
from tests.dbsnapshot import differences, snapshot
from tests.support.db import count, wipe
from tests.support.worlds import ACCOUNTS
from tracker.accounts.keyaccounts import import_accounts
from tracker.db.models import Contract, ContractParty, Notice, NoticeLink, Run
from tracker.notices.files import ingest_paths
from tracker.ops.crawl import PROJECT_ROOT
from tracker.ops.doctor import run_checks

COPIES = 10
BATCH = 40
NOTICE_ID = b'<cbc:ID schemeName="notice-id">'


def write_corpus(folder: Path) -> int:
    """The real notices, each also as COPIES - 1 copies with new notice-ids."""
    n = 0
    for path in sorted(REAL.glob("*.xml")):
        data = path.read_bytes()
        start = data.index(NOTICE_ID) + len(NOTICE_ID)
        end = data.index(b"<", start)
        for i in range(COPIES):
            new_id = uuid.uuid5(uuid.NAMESPACE_URL, f"kill:{path.name}:{i}")
            copy = data if i == 0 else data[:start] + str(new_id).encode() + data[end:]
            (folder / f"{i:02d}-{path.name}").write_bytes(copy)
            n += 1
    return n


def ingest_cmd(corpus: Path, *kill: str) -> list[str]:
    args = ["ingest", "--batch-size", str(BATCH), str(corpus)]
    if kill:
        return [sys.executable, "-m", "tests.killpoint", *kill, "--", *args]
    return [sys.executable, "-m", "tracker.cli", *args]


def run_killed(corpus: Path, target: str, n: int) -> None:
    proc = subprocess.run(
        ingest_cmd(corpus, target, str(n)), cwd=PROJECT_ROOT, capture_output=True, timeout=120
    )
    assert proc.returncode == -signal.SIGKILL, (target, proc.returncode, proc.stderr[-2000:])


@pytest.mark.pg_slow
def test_killed_ingests_then_rerun_equal_a_clean_ingest(
    engine: Engine, tracker_env: dict[str, str], tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    total = write_corpus(corpus)
    assert total == 570

    # The reference: one clean ingest.
    with Session(engine) as s:
        import_accounts(s, ACCOUNTS)
    clean = ingest_paths(engine, [corpus], batch_size=BATCH)
    assert clean["new"] == total and clean["failed"] == 0
    reference = snapshot(engine, skip_tables={"runs"})
    n_contracts, n_parties = count(engine, Contract), count(engine, ContractParty)
    assert n_contracts >= 16 and n_parties >= 42 and count(engine, NoticeLink) > 0

    wipe(engine)
    with Session(engine) as s:
        import_accounts(s, ACCOUNTS)
    # 1. inside derivation of the 3rd batch (its notices written, nothing committed yet)
    run_killed(corpus, "tracker.ops.derive:after_ingest", 3)
    stored = count(engine, Notice)
    assert stored == 2 * BATCH  # two whole units of work, nothing of the third
    assert count(engine, Contract) > 0
    # 2. right after the commit of a unit of work (resumes after the stored ones)
    run_killed(corpus, "tracker.notices.ingest:Ingestor._settle_conflicts", 5)
    # 3. while the child rows (lots, results, winners) of a batch are being written
    run_killed(corpus, "tracker.db.bulk:execute_encoded", 27)
    assert stored < count(engine, Notice) < total
    # 4. at a moment chosen from outside, once more notices were committed
    before = count(engine, Notice)
    proc = subprocess.Popen(
        ingest_cmd(corpus), cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and count(engine, Notice) <= before + BATCH:
            assert proc.poll() is None, "the ingest ended before it could be killed"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count(engine, Notice) < total
    with Session(engine) as s:
        outcomes = [r.outcome for r in s.scalars(select(Run).order_by(Run.id))]
    # Each run closed the one killed before it; the last killed one is left running...
    assert outcomes == ["failed"] * 3 + ["running"]
    checks = {c.name: c for c in run_checks(engine=engine)}
    assert checks["runs"].status == "warn" and "1 run(s) left running" in checks["runs"].message

    # ...until the rerun, which completes everything and closes it as interrupted.
    final = subprocess.run(ingest_cmd(corpus), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert f"read {total}," in final.stdout
    with Session(engine) as s:
        outcomes = [r.outcome for r in s.scalars(select(Run).order_by(Run.id))]
        errors = [r.error or "" for r in s.scalars(select(Run).order_by(Run.id))]
    assert outcomes == ["failed"] * 4 + ["ok"]
    assert all(e.startswith("interrupted") for e in errors[:4])

    diff = differences(reference, snapshot(engine, skip_tables={"runs"}))
    assert diff == {}, diff
    assert count(engine, Contract) == n_contracts and count(engine, ContractParty) == n_parties


def test_failed_derivation_is_completed_by_the_next_ingest(
    engine: Engine, tracker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.ops import derive

    original = derive.after_ingest

    def broken(session, pks, rules=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("derive is broken")

    with Session(engine) as s:
        import_accounts(s, ACCOUNTS)
    monkeypatch.setattr(derive, "after_ingest", broken)
    first = ingest_paths(engine, [REAL], batch_size=20)
    assert first["new"] == 57 and first["derive_errors"]
    assert count(engine, Contract) == 0
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(Notice.derive_pending.is_(True))) == 57
    checks = {c.name: c for c in run_checks(engine=engine)}
    assert checks["derivation"].status == "warn"
    assert "57 notice(s) stored but not derived" in checks["derivation"].message

    monkeypatch.setattr(derive, "after_ingest", original)
    second = ingest_paths(engine, [REAL], batch_size=20)  # every file unchanged
    assert second["unchanged"] == 57 and second["derived_pending"] == 57
    assert count(engine, Contract) > 0
    with Session(engine) as s:
        assert s.scalar(select(func.count()).where(Notice.derive_pending.is_(True))) == 0
    assert {c.name: c for c in run_checks(engine=engine)}["derivation"].status == "ok"
