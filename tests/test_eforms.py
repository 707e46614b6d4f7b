"""The eForms parser on every sample, on hostile XML, and on the quirks of real notices."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tracker.errors import NoticeParseError, UnsafeXMLError
from tracker.notices.eforms import PARSER_VERSION, parse_notice

NOTICES = Path(__file__).resolve().parent / "fixtures" / "notices"

# The Norwegian SDK examples (eforms-sdk-nor) are templates: fill their placeholders.
PLACEHOLDERS = {
    b"${EFORMS_MINOR}": b"1.13",
    b"${ISSUEDATE}": b"2026-01-15+01:00",
    b"${ISSUETIME}": b"10:00:00+01:00",
}


def fill_placeholders(data: bytes) -> bytes:
    for key, value in PLACEHOLDERS.items():
        data = data.replace(key, value)
    return data


def sample_files() -> list[Path]:
    """The eForms samples (the TED XML pairs of tests/test_ted_legacy_pairs.py aside)."""
    return sorted(
        p for p in NOTICES.rglob("*.xml") if not p.relative_to(NOTICES).parts[0].startswith("ted-")
    )


def read_sample(path: Path) -> bytes:
    return fill_placeholders(path.read_bytes())


REAL = NOTICES / "doffin-real"
SAMPLES = sample_files()
JSON_KEYS = {
    "file", "notice_id", "version", "procedure_id", "subtype", "notice_type", "issue_date",
    "title", "procedure_type", "main_cpv", "cpv_codes", "estimated_value", "buyers", "lots",
    "results", "changed_notice_id", "warnings",
}  # fmt: skip


def test_there_are_samples_of_every_kind() -> None:
    kinds = {p.relative_to(NOTICES).parts[0] for p in SAMPLES}
    assert kinds == {"doffin-real", "eforms-sdk", "eforms-sdk-nor"}
    assert len(SAMPLES) >= 178


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(NOTICES)))
def test_every_sample_parses(path) -> None:  # type: ignore[no-untyped-def]
    notice = parse_notice(read_sample(path), location=str(path))
    assert notice.notice_id and notice.version
    assert notice.document_type in {
        "ContractNotice",
        "ContractAwardNotice",
        "PriorInformationNotice",
        "BusinessRegistrationInformationNotice",
    }
    out = notice.to_json()
    assert set(out) == JSON_KEYS
    json.dumps(out)  # serialisable as is
    if notice.document_type != "BusinessRegistrationInformationNotice":
        assert notice.subtype, "every EU and Norwegian notice has a subtype (OPP-070)"


def test_norwegian_national_subtypes_are_read() -> None:
    subtypes = {parse_notice(read_sample(p)).subtype for p in SAMPLES if "eforms-sdk-nor" in str(p)}
    assert {"E2", "E3", "E4"} <= subtypes
    real = {parse_notice(p.read_bytes()).subtype for p in REAL.glob("*.xml")}
    assert {"N4", "N16", "N29"} <= real


def test_placeholders_left_in_are_flagged_not_fatal() -> None:
    path = next(p for p in SAMPLES if "national-e" in str(p))
    notice = parse_notice(path.read_bytes(), location=str(path))
    assert notice.issue_date is None
    assert any("unparseable date" in w and "${ISSUEDATE}" in w for w in notice.warnings)


def test_invalid_sample_without_notice_id_gets_a_stable_id() -> None:
    path = NOTICES / "eforms-sdk" / "INVALID_cn_24_empty.xml"
    a = parse_notice(path.read_bytes())
    b = parse_notice(path.read_bytes())
    assert a.notice_id == b.notice_id and a.notice_id.startswith("unidentified-")
    assert any("no notice identifier" in w for w in a.warnings)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<ContractNotice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2">
&lol3;</ContractNotice>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ContractNotice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:ID schemeName="notice-id">&xxe;</cbc:ID></ContractNotice>"""


@pytest.mark.parametrize("data", [BOMB, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_dtds_and_entities_are_refused(data: bytes) -> None:
    with pytest.raises(UnsafeXMLError, match="bomb.xml: DTDs and entity"):
        parse_notice(data, location="bomb.xml")


def test_doctype_after_comments_and_instructions_is_refused() -> None:
    data = EXTERNAL.replace(
        b'<?xml version="1.0"?>\n',
        b'<?xml version="1.0"?>\n<!-- exported -->\n<?xml-stylesheet href="a.xsl"?>\n',
    )
    with pytest.raises(UnsafeXMLError, match="bomb.xml: DTDs and entity"):
        parse_notice(data, location="bomb.xml")


def test_entity_text_inside_the_document_is_not_a_doctype() -> None:
    data = sorted(REAL.glob("*.xml"))[0].read_bytes()
    end = data.rindex(b"</")
    marked = data[:end] + b"<!-- <!DOCTYPE x> <!ENTITY y 'z'> -->" + data[end:]
    assert parse_notice(marked).notice_id == parse_notice(data).notice_id


def test_utf16_doctype_is_refused_after_parsing() -> None:
    data = EXTERNAL.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(NoticeParseError):
        parse_notice(data.decode().encode("utf-16"), location="u16.xml")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"   \n", "empty file"),
        (b"not xml at all", "not well-formed XML"),
        (b"<a><b></a>", "not well-formed XML"),
        (b"<html><body>503 Service Unavailable</body></html>", "not an eForms UBL notice"),
        (
            b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>',
            "not an eForms notice (root element Invoice)",
        ),
    ],
)
def test_non_notices_fail_with_the_file_name_and_reason(data: bytes, reason: str) -> None:
    with pytest.raises(NoticeParseError) as err:
        parse_notice(data, location="x/2024-1.xml")
    assert str(err.value).startswith("x/2024-1.xml: ")
    assert reason in str(err.value)


def _minimal(lot_xml: str = "", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ContractNotice xmlns="urn:oasis:names:specification:ubl:schema:xsd:ContractNotice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:CustomizationID>eforms-sdk-1.7#extended#urn:fdc:anskaffelser.no:2023:eforms:eu</cbc:CustomizationID>
 <cbc:ID schemeName="notice-id">11111111-2222-3333-4444-555555555555</cbc:ID>
 <cbc:IssueDate>2024-07-04Z</cbc:IssueDate>
 <cbc:VersionID>02</cbc:VersionID>{extra}
 <cac:ProcurementProjectLot><cbc:ID schemeName="Lot">LOT-0001</cbc:ID>{lot_xml}
 </cac:ProcurementProjectLot>
</ContractNotice>""".encode()


def _deadline(date: str, time: str | None = None) -> str:
    t = f"<cbc:EndTime>{time}</cbc:EndTime>" if time else ""
    return (
        "<cac:TenderingProcess><cac:TenderSubmissionDeadlinePeriod>"
        f"<cbc:EndDate>{date}</cbc:EndDate>{t}"
        "</cac:TenderSubmissionDeadlinePeriod></cac:TenderingProcess>"
    )


@pytest.mark.parametrize(
    ("date", "time", "expected_utc", "has_time"),
    [
        ("2024-07-04+02:00", "12:00:00+02:00", dt.datetime(2024, 7, 4, 10, 0, tzinfo=dt.UTC), True),
        ("2024-07-04Z", "10:00:00Z", dt.datetime(2024, 7, 4, 10, 0, tzinfo=dt.UTC), True),
        ("2024-07-04Z", "10:00:00.000Z", dt.datetime(2024, 7, 4, 10, 0, tzinfo=dt.UTC), True),
        # No offset anywhere: Norwegian local time (CEST in July).
        ("2024-07-04", "12:00:00", dt.datetime(2024, 7, 4, 10, 0, tzinfo=dt.UTC), True),
        # Offset on the date only applies to the time too.
        ("2024-01-10+01:00", "12:00:00", dt.datetime(2024, 1, 10, 11, 0, tzinfo=dt.UTC), True),
        # Date only: end of that day, flagged as date-only.
        ("2024-01-10+01:00", None, dt.datetime(2024, 1, 10, 22, 59, 59, tzinfo=dt.UTC), False),
    ],
)
def test_deadlines_with_offsets_are_normalised(date, time, expected_utc, has_time) -> None:  # type: ignore[no-untyped-def]
    lot = parse_notice(_minimal(_deadline(date, time))).lots[0]
    assert lot.submission_deadline is not None
    assert lot.submission_deadline.astimezone(dt.UTC) == expected_utc
    assert lot.submission_deadline_has_time is has_time


def test_date_only_deadline_is_a_date_in_json() -> None:
    out = parse_notice(_minimal(_deadline("2024-01-10+01:00"))).to_json()
    assert out["lots"][0]["deadline"] == "2024-01-10"
    out = parse_notice(_minimal(_deadline("2024-01-10+01:00", "12:00:00+01:00"))).to_json()
    assert out["lots"][0]["deadline"] == "2024-01-10T12:00:00+01:00"


def test_placeholder_deadline_is_dropped_and_flagged() -> None:
    notice = parse_notice(_minimal(_deadline("2099-01-01", "11:59:59")))
    assert notice.lots[0].submission_deadline is None
    assert any("placeholder deadline 2099-01-01" in w for w in notice.warnings)


def test_garbage_date_is_flagged() -> None:
    notice = parse_notice(_minimal(_deadline("31.12.2024", "12:00")))
    assert notice.lots[0].submission_deadline is None
    assert any("unparseable date" in w and "31.12.2024" in w for w in notice.warnings)


def test_issue_date_with_z_and_version() -> None:
    notice = parse_notice(_minimal())
    assert notice.issue_date == dt.date(2024, 7, 4)
    assert notice.version == "02"
    assert notice.lots[0].lot_id == "LOT-0001"
    assert notice.buyers == [] and any("no buyer" in w for w in notice.warnings)


def test_change_notice_id_is_split_into_id_and_version() -> None:
    path = NOTICES / "eforms-sdk" / "change-cn_24_void.xml"
    notice = parse_notice(path.read_bytes())
    assert notice.changed_notice_id == "f42be27e-09cf-4f0e-a745-63ec689631e6"
    assert notice.changed_notice_version == "01"
    assert notice.to_json()["changed_notice_id"] == "f42be27e-09cf-4f0e-a745-63ec689631e6"


def test_estimated_value_is_decimal_and_json_number() -> None:
    notice = parse_notice((REAL / "ContractNotice_cn-social_2023-629257.xml").read_bytes())
    assert notice.estimated_value == Decimal("9080000.00") and notice.currency == "NOK"
    assert notice.to_json()["estimated_value"] == {"amount": 9080000, "currency": "NOK"}


def test_parser_version_is_a_short_string() -> None:
    assert isinstance(PARSER_VERSION, str) and 0 < len(PARSER_VERSION) <= 16
