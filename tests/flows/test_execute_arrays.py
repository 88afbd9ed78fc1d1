"""Ensembles and scenario matrices start as job arrays; later segments chain as single jobs."""

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from callmip.config import Campaign
from callmip.drivers.base import ModelDriver, ModelRun, YearSpec
from callmip.rundir import RunDir
from flows.runs.execute import Context, RunRequest, execute

REPO = Path(__file__).resolve().parents[2]

# a "model" that appends the years it simulated to the restart chain it was given
_TOY = (
    "import json, pathlib, sys; nml = json.load(open('nml.json'));"
    "chain = json.load(open(nml['restart_in'])) if nml['restart_in'] else [];"
    "json.dump(chain + nml['years'], open(nml['restart_out'], 'w'))"
)


@dataclass
class ToyDriver(ModelDriver):
    name: str = "toy"

    def prepare(self, run: ModelRun) -> list[str]:
        run.work_dir.mkdir(parents=True, exist_ok=True)
        (run.work_dir / "nml.json").write_text(json.dumps({
            "restart_in": str(run.restart_in) if run.restart_in else None,
            "restart_out": str(self.restart_out(run)),
            "years": [y.year for y in run.years]}))
        return [sys.executable, "-c", _TOY]

    def restart_out(self, run: ModelRun) -> Path:
        return run.work_dir / "restart.json"

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        return []

    def write_prior(self, path: Path) -> Path:
        return path


class ToyContext(Context):
    def driver(self, name: str) -> ModelDriver:
        return ToyDriver()


def test_array_group_runs_members_with_their_own_inputs_and_chains_segments(tmp_path):
    campaign = Campaign.model_validate({
        "name": "arrays", "resolution": 2,
        "periods": {"historical": [2001, 2005]},
        "models": [{"name": "CELM-A",
                    "posterior": str(REPO / "configs/params/CELM-A_posterior.json")}],
        "scheduler": {"backend": "local", "max_parallel": 2, "segment_years": 2},
        "run_root": str(tmp_path),
    })
    rundir = RunDir(campaign)
    rundir.initialise()
    ctx = ToyContext.create(campaign, rundir, tmp_path, poll_s=0.05)
    start = tmp_path / "start.json"
    start.write_text("[2000]")
    years = tuple(YearSpec(y, y, 400.0) for y in range(2001, 2006))
    requests = [RunRequest(f"member{k}", "toy", tmp_path / "p.json", years[k:], start,
                           array_group="ens") for k in range(3)]
    results = execute(ctx, requests)
    for k in range(3):
        res = results[f"member{k}"]
        assert res.ok, res.outcomes[-1].log_tail
        assert json.loads(res.restart.read_text()) == [2000, *range(2001 + k, 2006)]
    ledger = json.loads((rundir.path / "jobs.json").read_text())["tasks"]
    firsts = [ledger[f"member{k}/seg000"]["attempts"][0]["log_path"] for k in range(3)]
    # the first segments ran as array members (the launcher's per-member logs)...
    assert [Path(p).name for p in firsts] == [f"member_{k}.0.log" for k in range(3)]
    assert all((rundir.path / "runs" / "_arrays" / "ens" / f"member_{k}.json").is_file()
               for k in range(3))
    # ...and later segments as single jobs in their own run directories
    assert Path(ledger["member0/seg001"]["attempts"][0]["log_path"]).parent.name == "seg001"
