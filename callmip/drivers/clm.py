"""Driver for CLM5 / CTSM (CESM land model, I-compset case, direct ``cesm.exe`` launch).

Inputs: ``user_nl_clm`` (paramfile, finidat, monthly h0 history with the fields the mapping
needs) and a copy of the case's CTSM parameter file with the calibrated values written into it
(CTSM reads parameters from ``paramfile``, not from the namelist). Run: ``launch_ctsm.sh``,
rendered per segment, sets the segment's dates with ``./xmlchange``, runs
``./preview_namelists`` and then ``mpirun -np N <exeroot>/cesm.exe`` in the run directory, so
the orchestrator's scheduler, not ``./case.submit``, is the batch system. The case itself
(``create_newcase``, ``case.setup``, ``case.build``) is made once by the group.

Native output (CTSM history fields, monthly h0 files ``<case>.clm2.h0.YYYY-MM.nc``, each
stamped at the end of its month and carrying ``time_bounds``): carbon fluxes in gC/m^2/s with
NEE positive to the atmosphere (includes fire), energy fluxes in W/m^2, water fluxes in mm/s,
pools in gC/m^2, water in kg/m2. Mapping: nep = -NEE, reco = AR + HR, cLiveBioAbove = LEAFC +
LIVESTEMC + DEADSTEMC, cSoil = TOTSOMC, mrso = TOTSOILLIQ + TOTSOILICE, mrsos =
SOILWATER_10CM, tran = QVEGT, evspsblsoi = QSOIL, ts = TSKIN, lai = TLAI, hfg = FGR.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import netCDF4
import numpy as np

from callmip import atomic
from callmip.drivers.base import (
    GC_PER_S_TO_KGC_PER_S,
    GC_TO_KG,
    Mapping,
    ModelRun,
    Term,
    VariableMap,
)
from callmip.drivers.render import (
    ParamValue,
    RenderError,
    render,
    safe_path,
    safe_token,
)
from callmip.drivers.template_driver import TemplateDriver

GC_S = ("gC/m^2/s", "gC/m2/s")
GC_M2 = ("gC/m^2", "gC/m2")
W_M2 = ("W/m^2", "W/m2")
MM_S = ("mm/s", "kg/m2/s")
KG_M2 = ("kg/m2", "kg/m^2", "mm")


def _clm_map() -> VariableMap:
    c = GC_PER_S_TO_KGC_PER_S
    return {
        "nep": Mapping((Term("NEE", -1.0, GC_S),), c, "nep = -NEE (NEE positive for source)"),
        "gpp": Mapping((Term("GPP", 1.0, GC_S),), c),
        "reco": Mapping((Term("AR", 1.0, GC_S), Term("HR", 1.0, GC_S)), c, "reco = AR + HR"),
        "hfls": Mapping((Term("EFLX_LH_TOT", 1.0, W_M2),)),
        "hfss": Mapping((Term("FSH", 1.0, W_M2),)),
        "hfg": Mapping((Term("FGR", 1.0, W_M2),)),
        "tran": Mapping((Term("QVEGT", 1.0, MM_S),)),
        "evspsblsoi": Mapping((Term("QSOIL", 1.0, MM_S),)),
        "ts": Mapping((Term("TSKIN", 1.0, ("K",)),)),
        "lai": Mapping((Term("TLAI", 1.0, ("m^2/m^2", "m2/m2", "none", "1")),)),
        "cLiveBioAbove": Mapping(
            (Term("LEAFC", 1.0, GC_M2), Term("LIVESTEMC", 1.0, GC_M2),
             Term("DEADSTEMC", 1.0, GC_M2)),
            GC_TO_KG, "cLeaf + cStem (live + dead stem)",
        ),
        "cSoil": Mapping((Term("TOTSOMC", 1.0, GC_M2),), GC_TO_KG),
        "mrso": Mapping((Term("TOTSOILLIQ", 1.0, KG_M2), Term("TOTSOILICE", 1.0, KG_M2))),
        "mrsos": Mapping((Term("SOILWATER_10CM", 1.0, KG_M2),)),
        "cVeg": Mapping((Term("TOTVEGC", 1.0, GC_M2),), GC_TO_KG, optional=True),
        "cLitter": Mapping((Term("TOTLITC", 1.0, GC_M2),), GC_TO_KG, optional=True),
        "cTotal": Mapping((Term("TOTECOSYSC", 1.0, GC_M2),), GC_TO_KG, optional=True),
    }


@dataclass
class ClmDriver(TemplateDriver):
    """Render CTSM's user_nl_clm, paramfile copy and launch script; map its h0 history."""

    name: str = "clm"
    template_dir: str = "clm"
    executable: str = "cesm.exe"
    time_stamp: str = "end"
    files_per_year: int | None = 12
    #: the group's CTSM case directory (after case.setup and case.build) and its EXEROOT
    case_dir: str = ""
    exeroot: str = ""
    #: the case's default parameter file: the prior, and the base of every run's copy
    base_paramfile: str = ""
    #: parameters a campaign may calibrate (variables of the parameter file)
    calibrated: tuple[str, ...] = ("slatop", "leafcn", "medlynslope", "jmaxb0", "jmaxb1",
                                   "fff", "d_max", "froot_leaf")
    variable_map: VariableMap = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.variable_map:
            self.variable_map = _clm_map()

    @property
    def case(self) -> str:
        return safe_token(Path(self.case_dir).name, "case name")

    def _paramfile(self) -> Path:
        if not self.base_paramfile:
            raise RenderError("clm driver: base_paramfile (the case's CTSM paramfile) is not set")
        return Path(safe_path(self.base_paramfile, "base_paramfile"))

    def prior(self) -> dict[str, ParamValue]:
        """Default values of the calibrated parameters, read from the case's paramfile."""
        path = self._paramfile()
        out: dict[str, ParamValue] = {}
        with netCDF4.Dataset(path) as ds:
            for name in self.calibrated:
                if name not in ds.variables:
                    raise RenderError(f"{path}: calibrated parameter {name!r} is not in the file")
                v = np.asarray(ds.variables[name][:], dtype="float64")
                out[name] = float(v) if v.ndim == 0 else [float(x) for x in v.ravel()]
        return out

    def write_paramfile(self, run: ModelRun, params: dict[str, ParamValue]) -> Path:
        """Copy the base paramfile into the run directory with ``params`` written in."""
        dst = Path(self.work_path(run, "clm_params.nc"))
        with atomic.atomic_path(dst) as tmp:
            shutil.copyfile(self._paramfile(), tmp)
            with netCDF4.Dataset(tmp, "a") as ds:
                for name, value in params.items():
                    var = ds.variables[name]
                    arr = np.asarray(value, dtype="float64")
                    if arr.size != var.size:
                        raise RenderError(
                            f"{run.params_file}: {name!r} has {arr.size} values; the paramfile "
                            f"variable has {var.size}"
                        )
                    var[:] = arr.reshape(var.shape)
        return dst

    def render_inputs(self, run: ModelRun) -> dict[str, str]:
        if not self.case_dir or not self.exeroot:
            raise RenderError("clm driver: case_dir and exeroot must be set to the group's case")
        y0, y1 = run.years[0].year, run.years[-1].year
        co2 = {round(float(y.co2_ppm), 6) for y in run.years}
        fields = [n for m in self.variable_map.values() for n in m.natives()]
        finidat = (self.input_path(run.restart_in, "restart_in") if run.restart_in else "")
        nl = {
            "run_id": run.run_id, "year_start": f"{y0:04d}", "year_end": f"{y1:04d}",
            "paramfile": self.work_path(run, "clm_params.nc"),
            "finidat": finidat,
            "hist_fields": ", ".join(f"'{f}'" for f in dict.fromkeys(fields)),
        }
        q = shlex.quote
        sh = {
            "run_id": run.run_id,
            "case_dir": q(safe_path(self.case_dir, "case_dir")),
            "exeroot": q(safe_path(self.exeroot, "exeroot")),
            "user_nl_clm": q(self.work_path(run, "user_nl_clm")),
            "rundir": q(self.work_path(run, "run")),
            "year_start": f"{y0:04d}",
            "n_years": str(len(run.years)),
            "forcing_start": str(min(y.forcing_year for y in run.years)),
            "forcing_end": str(max(y.forcing_year for y in run.years)),
            # constant CO2 (spin-up): one value; otherwise CTSM's historical CO2 series
            "co2_setting": (f"./xmlchange CCSM_CO2_PPMV={next(iter(co2)):.3f}" if len(co2) == 1
                            else "./xmlchange DATM_CO2_TSERIES=20tr"),
            "mpirun": q(self.launch()[0]),
            "mpi_tasks": str(int(self.mpi_tasks)),
        }
        return {"user_nl_clm": render(self.template_dir, "user_nl_clm", nl),
                "launch_ctsm.sh": render(self.template_dir, "launch_ctsm.sh", sh)}

    def prepare(self, run: ModelRun) -> list[str]:
        params = self.parameters(run)
        texts = self.render_inputs(run)
        (run.work_dir / "run").mkdir(parents=True, exist_ok=True)
        self.write_paramfile(run, params)
        atomic.write_text(run.work_dir / "user_nl_clm", texts["user_nl_clm"])
        script = atomic.write_text(run.work_dir / "launch_ctsm.sh", texts["launch_ctsm.sh"], 0o755)
        return ["bash", str(script)]

    def restart_out(self, run: ModelRun) -> Path:
        y = run.years[-1].year + 1
        return run.work_dir / "run" / f"{self.case}.clm2.r.{y:04d}-01-01-00000.nc"

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        if freq not in ("monthly", "annual"):
            raise ValueError(f"CTSM driver writes monthly h0 output only; asked for {freq!r}")
        return [run.work_dir / "run" / f"{self.case}.clm2.h0.{y.year:04d}-{m:02d}.nc"
                for y in run.years for m in range(1, 13)]
