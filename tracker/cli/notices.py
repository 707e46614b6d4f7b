"""Notice commands: parse files, ingest them, re-parse what is stored."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tracker.cli import main
from tracker.config import load_settings
from tracker.db.engine import get_engine
from tracker.errors import NoticeParseError
from tracker.notices.files import ingest_paths, iter_xml_files, reparse
from tracker.notices.parsing import parse_any
from tracker.notices.records import ParsedNotice
from tracker.rules import load_rules


@main.command("parse")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per notice on stdout.")
def parse_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    """Parse notice files (folders: every *.xml below) without storing anything.

    eForms and the TED XML published before eForms (TED_EXPORT) alike, with the same
    JSON keys.

    A file that fails is reported on stderr with its name and reason; the others still
    print; the exit code is 1 if any failed.

    Example: tracker parse --json tests/fixtures/notices/doffin-real
    """
    failed = 0
    for path in iter_xml_files(paths):
        try:
            notice = parse_any(path.read_bytes(), location=str(path))
        except (NoticeParseError, OSError) as exc:
            failed += 1
            click.echo(f"failed: {_with_location(str(path), str(exc))}", err=True)
            continue
        if as_json:
            click.echo(json.dumps(notice.to_json(), ensure_ascii=False))
        else:
            click.echo(summary(notice))
    if failed:
        sys.exit(1)


def _with_location(location: str, reason: str) -> str:
    return reason if reason.startswith(location) else f"{location}: {reason}"


def summary(n: ParsedNotice) -> str:
    """A few readable lines about a parsed notice."""
    buyers = "; ".join(f"{b.name} ({b.orgnr or b.orgnr_raw or '-'})" for b in n.buyers) or "-"
    value = f"{n.estimated_value} {n.currency or ''}".strip() if n.estimated_value else "-"
    lines = [
        f"{n.location}",
        f"  {n.notice_id} v{n.version}  subtype {n.subtype or '-'}  {n.notice_type or '-'}"
        f"  issued {n.issue_date or '-'}{'  [TEST]' if n.is_test else ''}",
        f"  {n.title or '(no title)'}",
        f"  buyers: {buyers}",
        f"  CPV {n.main_cpv or '-'}  procedure {n.procedure_type or '-'}  value {value}",
    ]
    for lot in n.lots:
        deadline = lot.submission_deadline.isoformat() if lot.submission_deadline else "-"
        if lot.request_deadline:
            deadline += f"  requests by {lot.request_deadline.isoformat()}"
        weights = ", ".join(
            f"{c.type or c.name}:{c.weight:g}" for c in lot.award_criteria if c.weight is not None
        )
        lines.append(
            f"  lot {lot.lot_id}: deadline {deadline}  framework {lot.framework_code or '-'}"
            f"  duration {lot.duration_value or '-'} {lot.duration_unit or ''}".rstrip()
            + (f"  criteria {weights}" if weights else "")
        )
    for r in n.results:
        winners = ", ".join(w.name or "?" for w in r.winners) or "-"
        lines.append(f"  result lot {r.lot_id}: winners {winners}  value {r.tender_value or '-'}")
    for w in n.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


@main.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--source", default="file", show_default=True, help="Source name stored with the notices."
)
@click.option(
    "--batch-size",
    default=500,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Notices per committed unit of work (stored and derived together).",
)
@click.option(
    "--derive-pending",
    is_flag=True,
    help="Without PATHS: only derive the notices stored but not yet derived.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes that read and parse the files; this one stores and derives in batches "
    "(same rows as one worker).",
)
def ingest_cmd(
    paths: tuple[Path, ...], source: str, batch_size: int, derive_pending: bool, workers: int
) -> None:
    """Parse notice files and store them (idempotent: a second run adds nothing).

    Each batch of notices is stored together with what is derived from it (account
    links, contracts), so a killed ingest loses nothing: run it again. Notices whose
    derivation failed are derived at the end of every ingest (or with --derive-pending).
    Bad files are recorded in the ingest error table and the run goes on; the exit
    code is 1 when any file failed (the others are stored). Ends with a one-line summary.

    Example: tracker ingest tests/fixtures/notices/doffin-real
    (or: tracker ingest --workers 2 ... to parse in two processes)
    """
    if not paths and not derive_pending:
        raise click.UsageError("give notice files or folders (or --derive-pending)")
    settings = load_settings()
    result = ingest_paths(
        get_engine(settings=settings),
        paths,
        source=source,
        progress=sys.stderr.isatty(),
        batch_size=batch_size,
        workers=workers,
        rules=load_rules(settings=settings),
    )
    for location, reason in result["failures"]:
        click.echo(f"failed: {_with_location(location, reason)}", err=True)
    if result["read"] == 0 and paths:
        click.echo(f"warning: no *.xml files under {', '.join(map(str, paths))}", err=True)
    click.echo(
        f"read {result['read']}, new {result['new']}, updated {result['updated']}, "
        f"unchanged {result['unchanged']}, failed {result['failed']}"
        + (
            f", derived {result['derived_pending']} pending"
            if result.get("derived_pending")
            else ""
        )
    )
    if result.get("derive_errors"):
        click.echo(f"derivation failed: {result['derive_errors'][0]}", err=True)
    if result["failed"] or result.get("derive_errors"):
        sys.exit(1)


@main.command("reparse")
@click.option("--outdated", is_flag=True, help="Only notices parsed by an older parser version.")
def reparse_cmd(outdated: bool) -> None:
    """Re-run the parser over the stored raw XML and update the notices in place.

    Example: tracker reparse
    """
    settings = load_settings()
    result = reparse(
        get_engine(settings=settings),
        outdated_only=outdated,
        progress=sys.stderr.isatty(),
        rules=load_rules(settings=settings),
    )
    click.echo(f"read {result['read']}, updated {result['updated']}, failed {result['failed']}")
