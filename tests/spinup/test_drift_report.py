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


def test_the_report_shows_each_members_judgement_and_plots_cycle_means():
    """A member judged by the phase judge is reported by its check, not by the cycle-mean row
    of the same cycle (which has no predecessor and cannot pass); a member judged by cycle
    means (or a table from before the ``compared`` column) by its last cycle."""
    from benchmarks.report import _spinup_section, spinup_judgements
    from callmip.config import SPINUP_JUDGES

    first = _state(0, 1900.0)
    phase = evaluate(first, None, SpinupCriteria()).assign(compared=SPINUP_JUDGES["cycle"])
    check = evaluate(_state(0, 1900.001), first, SpinupCriteria(), years_apart=20)
    check = check.assign(compared=SPINUP_JUDGES["phase"])
    member_a = pd.concat([phase, check], ignore_index=True)
    member_a.insert(0, "model", "CELM-A.v1")
    member_a.insert(1, "stage", "Prior")
    member_b = _table().assign(model="CELM-B.v1", compared=SPINUP_JUDGES["cycle"])
    table = pd.concat([member_a, member_b], ignore_index=True)
    judged, cycle_means = spinup_judgements(table)
    assert set(judged[judged["model"] == "CELM-A.v1"]["compared"]) == {SPINUP_JUDGES["phase"]}
    assert set(cycle_means["compared"]) == {SPINUP_JUDGES["cycle"]}
    assert len(judged[judged["model"] == "CELM-B.v1"]) == len(member_b)
    section = _spinup_section(table)
    header = section["table"]["header"]
    rows = [[cell["text"] for cell in row] for row in section["table"]["rows"]]
    a_total = [dict(zip(header, r, strict=True)) for r in rows
               if r[0] == "CELM-A.v1" and r[2] == "cTotal" and r[3] == "CTSM global drift"]
    assert len(a_total) == 1
    assert a_total[0]["passed"] == "yes" and a_total[0]["compared"] == SPINUP_JUDGES["phase"]
    # without the column every row is a cycle-mean row, as before
    old = _table()
    judged, cycle_means = spinup_judgements(old)
    assert len(judged) == len(cycle_means) == len(old)
