"""In-process checks of the parts a crawl relies on: parsing, items, pacing, harvest state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from spiders.exceptions import InvalidItem
from spiders.items import HarvestDayItem, NoticeItem, RegisterItem
from spiders.middlewares import retry_after_seconds
from spiders.secret import Secret
from spiders.sources.doffin import parse_search, sub_slices
from tests.replay import load_real_notices, synthetic_days
from tracker.db.models import HarvestDay
from tracker.notices import harvest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_search_page_with_raw_control_characters_and_one_hit_object():
    hit = json.loads((FIXTURES / "api" / "doffin-search-hit.json").read_text(encoding="utf-8"))
    text = json.dumps({"numHitsTotal": 1, "numHitsAccessible": 1, "hits": hit})
    raw = text.replace("Stjernsundrevet", "Stjernsund\x0brevet", 1).encode()
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)  # what a strict parser does with Doffin's output
    total, accessible, hits = parse_search(raw)
    assert (total, accessible) == (1, 1)
    assert [h["id"] for h in hits] == ["2026-107921"]
    assert "\x0b" in hits[0]["description"]


def test_day_slices_go_category_type_status():
    cats = sub_slices({})
    assert cats == [{"type": "PLANNING"}, {"type": "COMPETITION"}, {"type": "RESULT"}]
    types = sub_slices({"type": "RESULT"})
    assert {"type": "ANNOUNCEMENT_OF_INTENT"} in types and len(types) == 4
    statuses = sub_slices({"type": "ANNOUNCEMENT_OF_INTENT"})
    assert statuses[0] == {"type": "ANNOUNCEMENT_OF_INTENT", "status": "ACTIVE"}
    assert sub_slices(statuses[0]) == []


def test_retry_after_in_seconds_or_http_date():
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds(b"10", 3.0, now) == 10.0
    assert retry_after_seconds(b"Thu, 01 Jan 2026 12:00:30 GMT", 3.0, now) == 30.0
    assert retry_after_seconds(None, 3.0, now) == 3.0
    assert retry_after_seconds(b"soon", 3.0, now) == 3.0


def test_items_are_validated_where_built():
    xml = (FIXTURES / "notices" / "doffin-real" / "2024-110489.xml").read_bytes()
    NoticeItem(source="doffin", source_id="2024-110489", url="http://x/2024-110489", xml=xml)
    with pytest.raises(InvalidItem, match="NoticeItem.xml"):
        NoticeItem(source="doffin", source_id="1", url="http://x/1", xml=b'{"json": 1}')
    with pytest.raises(InvalidItem, match="NoticeItem.source"):
        NoticeItem(source="mercell", source_id="1", url="http://x/1", xml=xml)
    with pytest.raises(InvalidItem, match="RegisterItem.orgnr"):
        RegisterItem(orgnr="12345", kind="unknown")
    with pytest.raises(InvalidItem, match="is for"):
        RegisterItem(orgnr="974760673", kind="enhet", record={"organisasjonsnummer": "1"})
    with pytest.raises(InvalidItem, match="duplicates"):
        HarvestDayItem(source="doffin", day=dt.date(2024, 1, 1), ids=("a", "a"))


def test_secret_never_prints():
    s = Secret("abc-123")
    assert "abc" not in repr(s) and "abc" not in str(s) and "abc" not in f"{s}"
    assert s.reveal() == "abc-123" and not Secret(None)


def test_replay_data_comes_from_the_real_notices():
    real = load_real_notices()
    assert len(real) == 57
    by_id = {r.doffin_id: r for r in real}
    assert by_id["2023-100372"].day == dt.date(2023, 10, 30)  # IssueDate of the XML
    assert by_id["2023-100372"].hit["buyer"][0]["organizationId"] == "916879067"
    copies = synthetic_days({dt.date(2025, 1, 2): 3}, real)
    assert len({c.doffin_id for c in copies}) == 3
    assert all(b"2025-01-02+00:00" in c.xml for c in copies)
    assert all(c.doffin_id not in by_id for c in copies)


def test_resume_day_and_day_completion(session: Session):
    today = dt.date(2024, 3, 20)
    assert harvest.resume_day(session, "doffin") is None
    days = harvest.day_range(dt.date(2024, 3, 1), dt.date(2024, 3, 10))
    harvest.plan_days(session, "doffin", days)
    assert harvest.resume_day(session, "doffin") == dt.date(2024, 3, 1)
    for d in days[:5]:
        assert harvest.record_day(session, "doffin", d, hits=2, stored=2, today=today)
    # Stopped half-way: the first day never finished (not the overlap) is where it resumes.
    assert harvest.resume_day(session, "doffin") == dt.date(2024, 3, 3)
    for d in days[5:]:
        harvest.record_day(session, "doffin", d, hits=1, stored=1, today=today)
    assert harvest.resume_day(session, "doffin") == dt.date(2024, 3, 8)  # 2-day overlap
    # A day with a failed notice is not complete until the failure is resolved.
    harvest.record_day(session, "doffin", dt.date(2024, 3, 11), hits=3, stored=2, today=today)
    harvest.record_failure(session, "doffin", "2024-1", "HTTP 500", {"day": "2024-03-11"})
    row = session.query(HarvestDay).filter_by(day=dt.date(2024, 3, 11)).one()
    assert not row.complete
    assert harvest.resolve_failures(session, "doffin", ["2024-1"], today) == 1
    assert row.complete and row.stored == 3
    # Today is never complete: more notices may still be published.
    assert not harvest.record_day(session, "doffin", today, hits=1, stored=1, today=today)
    # A complete day stays complete when a re-listing finds a late notice failing.
    assert harvest.record_day(session, "doffin", days[0], hits=3, stored=2, today=today)
    session.commit()


def test_every_spider_module_loads_and_bad_arguments_fail_clearly():
    from scrapy.spiderloader import SpiderLoader
    from scrapy.utils.project import get_project_settings

    from spiders.exceptions import SpiderArgumentError
    from spiders.sources.brreg import BrregSpider
    from spiders.sources.doffin import DoffinSpider

    loader = SpiderLoader.from_settings(get_project_settings())
    assert {"doffin", "ted", "brreg"} <= set(loader.list())
    with pytest.raises(SpiderArgumentError, match=r"since='2024-13-01'.*YYYY-MM-DD"):
        DoffinSpider(since="2024-13-01")
    with pytest.raises(SpiderArgumentError, match="after until"):
        DoffinSpider(since="2024-02-01", until="2024-01-01")
    with pytest.raises(SpiderArgumentError, match="not valid organisation numbers"):
        BrregSpider(orgnrs="974760673,123")


def test_root_name_tells_eforms_from_old_ted_xml():
    from spiders.base import EFORMS_ROOTS, root_name

    xml = (FIXTURES / "notices" / "doffin-real" / "2024-110489.xml").read_bytes()
    assert root_name(xml) == "ContractAwardNotice" and root_name(xml) in EFORMS_ROOTS
    old = b'<?xml version="1.0"?><TED_EXPORT xmlns="http://publications.europa.eu/TED_schema/Export"/>'
    assert root_name(old) == "TED_EXPORT" and root_name(old) not in EFORMS_ROOTS
    assert root_name(b"not xml") is None


def test_validate_drops_what_is_no_item_or_was_broken_after_it_was_built():
    from scrapy.exceptions import DropItem

    from spiders.items import FetchFailureItem
    from spiders.pipelines import Normalise, Validate

    with pytest.raises(DropItem, match="not an item of spiders.items: dict"):
        Validate().process_item({"kind": "agreement"})
    failure = FetchFailureItem(source="doffin", source_id="2024-1", reason="HTTP 500")
    assert Validate().process_item(failure) is failure
    failure.reason = ""
    with pytest.raises(DropItem, match="FetchFailureItem.reason: empty"):
        Validate().process_item(failure)
    # Normalise: the issue day goes into the meta the next run reads.
    dated = FetchFailureItem(
        source="doffin", source_id="2024-2", reason="x", day=dt.date(2024, 3, 1), meta={"a": 1}
    )
    assert Normalise().process_item(dated).meta == {"a": 1, "day": "2024-03-01"}


def test_every_store_pipeline_takes_one_kind_and_the_order_is_the_documented_one():
    from scrapy.utils.project import get_project_settings

    order = sorted(get_project_settings().getdict("ITEM_PIPELINES").items(), key=lambda kv: kv[1])
    names = [name.rsplit(".", 1)[1] for name, _ in order]
    assert names == [
        "Validate",
        "Normalise",
        "StoreFailures",
        "StoreNotices",  # flushes at a HarvestDayItem ...
        "CloseDays",  # ... before the day is checked
        "StoreRegister",
        "StoreAgreements",
    ]


def test_agreement_items_read_as_mappings():
    from spiders.items import AgreementItem

    item = AgreementItem(
        site="s",
        url="https://example.no/avtaler",
        buyer_name="Sykehusinnkjøp HF",
        buyer_orgnr=None,
        title="IKT",
        supplier_name="Dustin Norway AS",
        start_date=None,
        end_date="2024-08-31",
        latest_end="2024-08-31",
        options_text=None,
        framework=True,
        text="...",
    )
    assert item["kind"] == "agreement" and item.get("end_date") == "2024-08-31"
    assert "supplier_name" in dict(item) and item.get("nope") is None
    with pytest.raises(InvalidItem, match="AgreementItem.end_date"):
        dataclasses.replace(item, end_date="31.08.2024")


def test_the_crawl_derives_with_the_rules_it_is_given_not_this_machines(tmp_path, monkeypatch):
    from scrapy.settings import Settings

    from spiders.extensions import crawl_rules
    from tracker.errors import ConfigError
    from tracker.rules import default_rules

    local = tmp_path / "local.toml"
    local.write_text('[profile]\ncpv_prefixes = ["45"]\n', encoding="utf-8")
    monkeypatch.setenv("TRACKER_RULES", str(local))
    given = '[profile]\ncpv_prefixes = ["33"]\n'
    assert crawl_rules(Settings({"TRACKER_RULES_TOML": given})).value("profile.cpv_prefixes") == [
        "33"
    ]
    # Empty: the coordinator has no rules file, so the shipped defaults, not this node's.
    defaults = default_rules().value("profile.cpv_prefixes")
    assert crawl_rules(Settings({"TRACKER_RULES_TOML": ""})).value("profile.cpv_prefixes") == (
        defaults
    )
    # Not given (a crawl started on this machine): this machine's rules file.
    assert crawl_rules(Settings()).value("profile.cpv_prefixes") == ["45"]
    with pytest.raises(ConfigError, match="TRACKER_RULES_TOML"):
        crawl_rules(Settings({"TRACKER_RULES_TOML": "[profile\n"}))
