"""The long score table: one row per (source, stage, variable, product, region, quantity).

Contract: columns follow ilamb3's long format (source, region, analysis, name, type, units,
value) plus ``stage`` (Prior/Posterior), ``variable`` (CalLMIP name), ``product``, ``mode``
(the method that made the number, see :mod:`benchmarks.modes`) and ``note`` (period used,
skip reasons). ``type`` is ``'score'`` (0-1, higher is better), ``'scalar'`` (physical value
in ``units``) or ``'skipped'`` (value NaN, ``note`` says why).
"""

from __future__ import annotations

import pandas as pd

COLUMNS = [
    "source",
    "stage",
    "variable",
    "product",
    "region",
    "analysis",
    "name",
    "type",
    "units",
    "value",
    "mode",
    "note",
]


def empty_table() -> pd.DataFrame:
    """A score table with no rows and the right columns."""
    return pd.DataFrame(columns=COLUMNS)


def scores_only(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of type 'score'."""
    return table[table["type"] == "score"]
