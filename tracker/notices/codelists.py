"""Codelists shipped with the tracker (CPV with Norwegian names, notice subtypes, procedure
types, framework codes, buyer legal types), loaded once from ``tracker/data/*.tsv``.

The files were converted from the eForms SDK codelists (Norwegian edition).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    nob: str

    @property
    def label(self) -> str:
        """Norwegian name when there is one, else English."""
        return self.nob or self.name


@cache
def codelist(name: str) -> dict[str, Code]:
    """The codelist ``name`` (file stem in tracker/data) as {code: Code}."""
    with (DATA / f"{name}.tsv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        return {row["code"]: Code(row["code"], row["name"], row["nob"]) for row in reader}


def cpv_base(code: str) -> str:
    """The 8-digit part of a CPV code: ``72000000-5`` → ``72000000``."""
    return code.strip().split("-")[0]


def is_valid_cpv(code: str) -> bool:
    """True when the 8-digit CPV code is in the codelist (the check digit is not computed)."""
    return cpv_base(code) in codelist("cpv")


def cpv_label(code: str) -> str | None:
    entry = codelist("cpv").get(cpv_base(code))
    return entry.label if entry else None
