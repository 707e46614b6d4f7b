"""Benchmark: the TED XML reader (notices before eForms) against raw lxml, on one core.

The 78 real TED XML notices of tests/fixtures/notices/ted-legacy (R2.0.9; 8 KiB to
2.8 MiB, 103 KiB on average, two thirds of it translations) are replicated to ``--count``
notices, each with its own OJ S number. Phases, each over the same copies:

- raw ``lxml.etree.fromstring`` of the whole document (plain parser);
- raw lxml with the reader's safe parser settings (no entities, no network, blank text
  dropped), whole document;
- ``tracker.notices.ted_legacy.parse_ted_legacy``: safety checks, the coded data and the original
  form parsed (the translations skipped), every field read into a ParsedNotice;
- ``tracker.notices.parsing.parse_any``: the same through the format dispatcher.

Rates are CPU time of this process (what "one core" means, steadier than wall time on a
shared machine), net of generating the copies; wall time and the load average are
printed too.

    .venv/bin/python bench/legacy.py                  # 4,000 notices
    .venv/bin/python bench/legacy.py --count 8000 --repeat 3
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import load, rss_mb, timed  # noqa: E402  (bench/ingest.py: shared reporting)

from tracker.notices.parsing import parse_any  # noqa: E402
from tracker.notices.ted_legacy import parse_ted_legacy  # noqa: E402
from tracker.notices.xmlread import _XML_PARSER  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LEGACY = ROOT / "tests" / "fixtures" / "notices" / "ted-legacy"
NUMBER = re.compile(rb"(<NO_DOC_OJS>\d{4}/S \d{3}-)(\d+)(</NO_DOC_OJS>)")
TARGET = 1000  # notices/s of the reader on one core (issue 15)


def originals() -> list[bytes]:
    files = sorted(LEGACY.glob("*.xml"))
    if not files:
        raise SystemExit(f"no notices in {LEGACY}")
    return [f.read_bytes() for f in files]


def copies(base: list[bytes], count: int) -> Iterator[tuple[int, bytes]]:
    """``count`` notices, each with its own OJ S number (deterministic)."""
    for i in range(count):
        data = base[i % len(base)]
        number = f"{900000 + i % 100000:06d}".encode()
        yield i, NUMBER.sub(lambda m, n=number: m.group(1) + n + m.group(3), data, count=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=4000)
    ap.add_argument(
        "--repeat", type=int, default=1, help="run each phase N times, keep the least CPU time"
    )
    args = ap.parse_args()
    base = originals()
    n = args.count
    size = sum(map(len, base)) / len(base) / 1024
    print(f"{n} notices from {len(base)} real TED XML notices ({size:.0f} KiB average)")
    print(f"before: {load()}")

    def best(label: str, fn) -> float:  # type: ignore[no-untyped-def]
        return min(timed(label, n, fn) for _ in range(max(1, args.repeat)))

    def generate() -> None:
        for _ in copies(base, n):
            pass

    def raw() -> None:
        for _, data in copies(base, n):
            etree.fromstring(data)

    def raw_safe() -> None:
        for _, data in copies(base, n):
            etree.fromstring(data, parser=_XML_PARSER)

    seen: set[str] = set()

    def reader() -> None:
        for i, data in copies(base, n):
            seen.add(parse_ted_legacy(data, location=f"copy-{i}").notice_id)

    def dispatched() -> None:
        for i, data in copies(base, n):
            parse_any(data, location=f"copy-{i}")

    t_gen = best("generate copies (overhead)", generate)
    t_raw = best("raw lxml, whole document", raw) - t_gen
    t_safe = best("raw lxml, safe parser", raw_safe) - t_gen
    t_reader = best("parse_ted_legacy", reader) - t_gen
    t_any = best("parse_any (dispatcher)", dispatched) - t_gen
    if len(seen) != min(n, 100000):
        raise SystemExit(f"copies were not distinct: {len(seen)} notice ids for {n} copies")
    print(f"after: {load()}")
    runs = f", least of {args.repeat} runs" if args.repeat > 1 else ""
    print(f"net of the copy generation, CPU time of this process (one core){runs}:")
    for label, t in (
        ("raw lxml", t_raw),
        ("raw lxml (safe)", t_safe),
        ("TED XML reader", t_reader),
        ("parse_any", t_any),
    ):
        print(f"  {label:<16} {n / t:9.0f} notices/s  {t / n * 1000:6.3f} ms/notice")
    print(f"  reader / raw lxml                {t_raw / t_reader:6.1%}")
    # The mix is heavy-tailed: three of the 78 carry most of the work (an award notice of
    # 1.2 MB with 1,105 awards and 652 lots). Per original notice, CPU time:
    per = []
    for data in base:
        cpu = time.process_time()
        for _ in range(5):
            parse_ted_legacy(data)
        per.append((time.process_time() - cpu) / 5 * 1000)
    per.sort()
    print(
        f"  per notice (ms)  median {per[len(per) // 2]:.3f}  p90 {per[int(len(per) * 0.9)]:.3f}"
        f"  max {per[-1]:.3f}  (the 78 originals, 5 runs each)"
    )
    print(f"  peak RSS                         {rss_mb():6.0f} MB")
    met = n / t_reader >= TARGET
    verdict = "met" if met else "NOT met"
    print(f"target for the reader (>= {TARGET} notices/s on one core): {verdict}")


if __name__ == "__main__":
    main()
