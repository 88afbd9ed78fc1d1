"""The drift table and plot written to the run directory after the spin-up."""

import numpy as np
import pandas as pd

from callmip.config import SpinupCriteria
from flows.spinup.diagnostics import CycleState, evaluate
from flows.spinup.report import write_drift


def _state(cycle: int, ctotal_pgc: float) -> CycleState:
    area = np.full(50, 1e12)
    cells = np.full(50, ctotal_pgc * 1e15 / area.sum())  # gC m-2
    totals = {"cTotal": ctotal_pgc, "cSoil": 0.7 * ctotal_pgc, "cVeg": 0.3 * ctotal_pgc,
              "gpp": 120.0, "mrso": 0.3}
    return CycleState(cycle, 2, totals, cells, area)


def _table() -> pd.DataFrame:
    tables, prev = [], None
    for cycle, level in enumerate((1800.0, 1900.0, 1950.0, 1955.0)):
        state = _state(cycle, level)
        t = evaluate(state, prev, SpinupCriteria())
        t.insert(0, "model", "CELM-A.v1")
        t.insert(1, "stage", "Prior")
        tables.append(t)
        prev = state
    return pd.concat(tables, ignore_index=True)


def test_write_drift_writes_csv_and_png_atomically(tmp_path):
    table = _table()
    csv, png = write_drift(table, tmp_path / "spinup")
    back = pd.read_csv(csv)
    assert len(back) == len(table)
    np.testing.assert_allclose(back["drift_per_year"], table["drift_per_year"].astype(float))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert sorted(p.name for p in (tmp_path / "spinup").iterdir()) == ["drift.csv", "drift.png"]
    # the drift halves cycle after cycle: the table says so
    ctsm = back[(back["criterion"] == "CTSM global drift") & (back["variable"] == "cTotal")]
    d = ctsm["drift_per_year"].abs().to_numpy()[1:]
    assert (np.diff(d) < 0).all()


def test_analytic_phase_ends_when_a_solve_stops_moving_total_carbon():
    from flows.spinup.loop import solve_again

    assert solve_again(_state(0, 1800.0), _state(1, 1900.0), 3e-4)
    assert solve_again(_state(1, 1900.0), _state(2, 1900.0 * (1 + 4e-4)), 3e-4)
    assert not solve_again(_state(2, 1900.0), _state(3, 1900.0 * (1 - 2e-4)), 3e-4)
