"""Driver for the embedded model CELM (``python -m celm run <namelist.yaml>``).

CELM writes native names in model units (gC m-2 d-1, mm d-1, gC m-2, NEE positive to the
atmosphere); the map below turns them into CalLMIP variables in CalLMIP units, with the sign flip
for nep (positive into the land) and the derived reco = RA + RH and cLiveBioAbove =
C_LEAF + f_above * C_WOOD. See celm/OUTPUTS.md for the native variables.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import yaml

from callmip import atomic
from callmip.drivers.base import (
    GC_PER_DAY_TO_KGC_PER_S,
    GC_TO_KG,
    MM_PER_DAY_TO_KG_PER_S,
    Capabilities,
    Mapping,
    ModelDriver,
    ModelRun,
    Term,
    VariableMap,
)


def _celm_map(wood_above_fraction: float) -> VariableMap:
    carbon = GC_PER_DAY_TO_KGC_PER_S
    water = MM_PER_DAY_TO_KG_PER_S
    return {
        "nep": Mapping((Term("NEE", -1.0),), carbon, "nep = -NEE (positive into the land)"),
        "gpp": Mapping((Term("GPP"),), carbon),
        "reco": Mapping((Term("RA"), Term("RH")), carbon, "reco = ra + rh"),
        "hfls": Mapping((Term("QLE"),)),
        "hfss": Mapping((Term("QH"),)),
        "hfg": Mapping((Term("QG"),)),
        "tran": Mapping((Term("TRANSP"),), water),
        "evspsblsoi": Mapping((Term("ESOIL"),), water),
        "ts": Mapping((Term("TSURF"),)),
        "lai": Mapping((Term("LAI"),)),
        "cLiveBioAbove": Mapping(
            (Term("C_LEAF"), Term("C_WOOD", wood_above_fraction)),
            GC_TO_KG,
            f"cLiveBioAbove = cLeaf + {wood_above_fraction} * cWood",
        ),
        "cSoil": Mapping((Term("C_SOM"),), GC_TO_KG),
        "mrso": Mapping((Term("SOILW"),)),
        "mrsos": Mapping((Term("SOILW_TOP"),)),
        # not in the CalLMIP table; used by spin-up diagnostics
        "cVeg": Mapping(
            (Term("C_LABILE"), Term("C_LEAF"), Term("C_ROOT"), Term("C_WOOD")), GC_TO_KG
        ),
        "cLitter": Mapping((Term("C_LITTER"),), GC_TO_KG),
        "cTotal": Mapping((Term("C_TOTAL"),), GC_TO_KG),
        # land use (not in the CalLMIP table): CMIP fLuc, fHarvest, nbp, cProduct
        "fLuc": Mapping((Term("FLUC"),), carbon, optional=True),
        "fHarvest": Mapping((Term("FHARVEST"),), carbon, optional=True),
        "nbp": Mapping((Term("NBP"),), carbon, "nbp = -NEE - FHARVEST - FLUC", optional=True),
        "cProduct": Mapping((Term("C_PRODUCT"),), GC_TO_KG, optional=True),
    }


@dataclass
class CelmDriver(ModelDriver):
    """Render CELM namelists and map its output."""

    name: str = "celm"
    wood_above_fraction: float = 0.7
    variable_map: VariableMap = field(default_factory=dict)
    capabilities: ClassVar[Capabilities] = Capabilities(
        drivers_of_change=("climate", "CO2", "LUC"),
        accelerated_spinup="Anderson-accelerated periodic steady state (cycle + semi-analytic "
                           "solve of every pool, as CLM's SASU, as the fixed-point map)",
        accelerated_ends_with_cycle=True,  # celm.steadystate runs the cycle once from the state
        note="the embedded model, run as its own process; it has no nitrogen cycle: it ignores "
             "N deposition (land use: crop + pasture replace natural vegetation in a managed "
             "tile, see celm/landuse.py)",
    )

    def __post_init__(self) -> None:
        if not self.variable_map:
            self.variable_map = _celm_map(self.wood_above_fraction)

    @staticmethod
    def _year(y, with_landuse: bool) -> dict:
        out = {"year": y.year, "forcing_year": y.forcing_year, "co2_ppm": float(y.co2_ppm)}
        if with_landuse:
            out["landuse_year"] = y.landuse_year
        return out

    def namelist(self, run: ModelRun) -> dict:
        """The namelist as a dict (what :meth:`prepare` writes). Land use reaches CELM when the
        run has a ``landuse_dir`` and every year a ``landuse_year``; N deposition never does
        (no N cycle: see :attr:`capabilities`)."""
        with_landuse = run.landuse_dir is not None and all(
            y.landuse_year is not None for y in run.years)
        nml: dict = {
            "forcing_dir": str(run.forcing_dir),
            "params_file": str(run.params_file),
            "restart_in": str(run.restart_in) if run.restart_in else None,
            "restart_out": str(self.restart_out(run)),
            "output_dir": str(run.work_dir / "out"),
            "output": {"daily": run.daily_output, "monthly": run.monthly_output, "annual": True},
            "ensemble_member": run.ensemble_member,
            "years": [self._year(y, with_landuse) for y in run.years],
        }
        if with_landuse:
            nml["landuse_dir"] = str(run.landuse_dir)
        if run.spinup_mode:
            nml["spinup_mode"] = run.spinup_mode
        return nml

    def prepare(self, run: ModelRun) -> list[str]:
        run.work_dir.mkdir(parents=True, exist_ok=True)
        path = run.work_dir / "namelist.yaml"
        atomic.write_text(path, yaml.safe_dump(self.namelist(run), sort_keys=False))
        return [sys.executable, "-m", "celm", "run", str(path)]

    def restart_out(self, run: ModelRun) -> Path:
        return run.work_dir / "restart.nc"

    def iterated_years(self, run: ModelRun) -> int | None:
        """From ``celm.steadystate``'s cost file: the most years any tile iterated (the
        natural and managed tiles share their cells, and are iterated one after the other)."""
        from celm.namelist import STEADY_STATE_COST

        path = run.work_dir / "out" / STEADY_STATE_COST
        if run.spinup_mode != "analytic" or not path.is_file():
            return None
        tiles = json.loads(path.read_text())["tiles"]
        return max((int(t["years"]) for t in tiles.values()), default=0)

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        if freq not in ("monthly", "annual", "daily"):
            raise ValueError(f"unknown output frequency {freq!r}")
        return [run.work_dir / "out" / f"{freq}_{y.year:04d}.nc" for y in run.years]

    def write_prior(self, path: Path) -> Path:
        from celm.params import write_prior

        write_prior(path)
        return path

    @staticmethod
    def params_summary(path: Path) -> dict:
        """Parameter values as recorded in the manifest."""
        return json.loads(Path(path).read_text())

