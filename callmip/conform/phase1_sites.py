"""The CalLMIP Phase 1b site list as data: role (calibration/validation), IGBP class, record length.

Sources, both in ``../shared/reference/``: protocol v2 section 2.3 (Table 1: the 21 calibration
sites, Table 2: the 10 validation sites, each with the record length used in years) and the
draft protocol section 2.3, which gives every one of the 42 PLUMBER2 candidate sites its IGBP
class (v2 lists PFT fractions, not IGBP classes). Where the two disagree we keep the protocol's
words and say so: the draft writes AU-ASM as "ENF, hot" although FLUXNET classes it SAV.
Protocol v2 spells IT-MBo "IT-Mbo"; the flux file and FLUXNET say IT-MBo, so site codes are
compared case-insensitively (:func:`canonical_code`).

Site lists change between protocol versions (the draft had 22 calibration sites, v2 has 21),
so a coordinator can replace this table with a CSV (``site,role,igbp[,record_years]``) through
:func:`load_site_table`; the default is protocol v2.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

ROLES = ("Calibration", "Validation")
#: IGBP classes (https://fluxnet.org/data/badm-data-templates/igbp-classification/)
IGBP_CLASSES = ("ENF", "EBF", "DNF", "DBF", "MF", "CSH", "OSH", "WSA", "SAV", "GRA", "WET",
                "CRO", "CVM", "URB", "SNO", "BSV", "WAT")


class SiteTableError(ValueError):
    """A site table file is malformed (names the file, line and problem)."""


@dataclass(frozen=True)
class Phase1Site:
    """One Phase 1b site."""

    code: str
    role: str  # Calibration | Validation
    igbp: str
    record_years: int | None = None  # "record length used" in protocol v2 Tables 1 and 2

    @property
    def calval(self) -> str:
        """The file-name label: Cal | Val."""
        return self.role[:3]


def _sites(role: str, rows: str) -> list[Phase1Site]:
    out = []
    for item in rows.split(","):
        code, igbp, years = item.split()
        out.append(Phase1Site(code, role, igbp, int(years)))
    return out


PROTOCOL_V2_SITES: Mapping[str, Phase1Site] = MappingProxyType(
    {
        s.code: s
        for s in (
            *_sites(
                "Calibration",
                "CA-Qfo ENF 7, CH-Dav ENF 18, DE-Gri GRA 11, DE-Hai DBF 13, DE-Tha ENF 17, "
                "DK-Sor DBF 18, FI-Hyy ENF 19, FR-Pue EBF 15, IT-Lav ENF 10, IT-MBo GRA 10, "
                "IT-Noe CSH 11, NL-Loo ENF 17, RU-Fyo ENF 12, US-MMS DBF 16, US-NR1 ENF 16, "
                "US-SRG GRA 6, US-SRM WSA 11, US-Ton WSA 14, US-Var GRA 14, US-Whs OSH 7, "
                "US-Wkg GRA 10",
            ),
            *_sites(
                "Validation",
                "AU-ASM ENF 7, AU-How WSA 15, AU-Stp GRA 8, AU-Tum EBF 16, CH-Cha GRA 18, "
                "US-FPe GRA 7, US-GLE ENF 6, US-Ha1 MF 15, US-Me2 ENF 13, US-UMB DBF 15",
            ),
        )
    }
)


def canonical_code(code: str, table: Mapping[str, Phase1Site]) -> str | None:
    """The table's spelling of ``code`` (case-insensitive), None when the site is not listed."""
    if code in table:
        return code
    lowered = {k.lower(): k for k in table}
    return lowered.get(code.lower())


def load_site_table(path: Path | str | None = None) -> Mapping[str, Phase1Site]:
    """Protocol v2's sites, or a CSV with columns ``site,role,igbp`` (+ optional ``record_years``).

    ``role`` is ``Calibration``/``Validation`` (or ``Cal``/``Val``); ``igbp`` an IGBP class.
    """
    if path is None:
        return PROTOCOL_V2_SITES
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SiteTableError(f"{path}: cannot read site table ({exc})") from exc
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    missing = {"site", "role", "igbp"} - set(reader.fieldnames or ())
    if missing:
        raise SiteTableError(f"{path}: missing column(s) {sorted(missing)}; need site,role,igbp")
    sites: dict[str, Phase1Site] = {}
    for lineno, row in enumerate(reader, start=2):
        code = (row["site"] or "").strip()
        role = {"Cal": "Calibration", "Val": "Validation"}.get(row["role"].strip(),
                                                               row["role"].strip())
        igbp = (row["igbp"] or "").strip().upper()
        if role not in ROLES:
            raise SiteTableError(f"{path}:{lineno}: role {row['role']!r}; allowed: "
                                 "Calibration, Validation (or Cal, Val)")
        if igbp not in IGBP_CLASSES:
            raise SiteTableError(f"{path}:{lineno}: IGBP class {row['igbp']!r} unknown; allowed: "
                                 f"{', '.join(IGBP_CLASSES)}")
        years = (row.get("record_years") or "").strip()
        if code in sites:
            raise SiteTableError(f"{path}:{lineno}: site {code!r} listed twice")
        sites[code] = Phase1Site(code, role, igbp, int(years) if years else None)
    if not sites:
        raise SiteTableError(f"{path}: no sites")
    return MappingProxyType(sites)
