"""Driver for ORCHIDEE (offline driver ``orchidee_ol``, XIOS history output).

Inputs: ``run.def`` (forcing file, dates, SECHIBA/STOMATE/driver restarts, CO2 file, history
files) which includes ``orchidee.def`` with the calibrated parameters (per-PFT values written
``KEY__NN``). Run: ``mpirun -np N orchidee_ol`` in the run directory.

Native output: SECHIBA grid-cell fields (``fluxlat``, ``fluxsens`` and ``soilflx`` in W m-2,
``temp_sol_new`` in K, ``TVeg`` and ``vevapnu_alma`` in kg m-2 s-1, ``mrso``/``mrsos`` in
kg m-2) and STOMATE per-PFT fields on the ``veget`` axis, expressed per m2 of the PFT
(``GPP``, ``MAINT_RESP``, ``GROWTH_RESP``, ``HET_RESP``, ``CO2_FIRE`` in gC m-2 d-1; ``LAI``;
biomass ``LEAF_M_c``, ``SAP_M_AB_c``, ``HEART_M_AB_c`` and soil ``SOIL_*_c`` in gC m-2). A
per-PFT field becomes a grid-cell value as sum over PFTs of value x ``VEGET_COV_MAX`` (the
PFT's fraction of the land in the cell), exactly as ORCHIDEE's own CMIP fields (``gpp_ipcc``,
``cLeaf``) are built, but without their ``contfrac`` factor, because CalLMIP variables are per
m2 of land ("area: mean where land"). nep = GPP - (MAINT_RESP + GROWTH_RESP + HET_RESP) -
CO2_FIRE (positive into the land, natural fire included as the protocol asks); reco = ra + rh;
cLiveBioAbove = leaf + above-ground sapwood + above-ground heartwood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from callmip.drivers.base import (
    GC_PER_DAY_TO_KGC_PER_S,
    GC_TO_KG,
    Mapping,
    ModelRun,
    Term,
    VariableMap,
)
from callmip.drivers.render import ParamValue, render
from callmip.drivers.template_driver import TemplateDriver

GC_DAY = ("gC/m^2/day", "gC/m2/day", "gC m-2 d-1", "gC/m**2/day")
GC_M2 = ("gC/m^2", "gC/m2", "gC m-2", "gC/m**2")
W_M2 = ("W/m^2", "W/m2", "W m-2")
KG_M2_S = ("kg/m^2/s", "kg/m2/s", "kg m-2 s-1")


def _orchidee_map(weight: str) -> VariableMap:
    def pft(name: str, coef: float = 1.0, units: tuple[str, ...] = GC_DAY) -> Term:
        return Term(name, coef, units, weight=weight)

    flux = GC_PER_DAY_TO_KGC_PER_S
    return {
        "nep": Mapping(
            (pft("GPP"), pft("MAINT_RESP", -1.0), pft("GROWTH_RESP", -1.0),
             pft("HET_RESP", -1.0), pft("CO2_FIRE", -1.0)),
            flux, "nep = gpp - ra - rh - fFire, each sum_pft(x * VEGET_COV_MAX)",
        ),
        "gpp": Mapping((pft("GPP"),), flux),
        "reco": Mapping((pft("MAINT_RESP"), pft("GROWTH_RESP"), pft("HET_RESP")), flux,
                        "reco = ra (maintenance + growth) + rh"),
        "hfls": Mapping((Term("fluxlat", 1.0, W_M2),)),
        "hfss": Mapping((Term("fluxsens", 1.0, W_M2),)),
        "hfg": Mapping((Term("soilflx", 1.0, W_M2),), optional=True,
                       note="soilflx as written for ALMA Qg (positive into the soil)"),
        "tran": Mapping((Term("TVeg", 1.0, KG_M2_S),)),
        "evspsblsoi": Mapping((Term("vevapnu_alma", 1.0, KG_M2_S),)),
        "ts": Mapping((Term("temp_sol_new", 1.0, ("K",)),)),
        "lai": Mapping((pft("LAI", 1.0, ("m^2/m^2", "m2/m2", "-", "1")),)),
        "cLiveBioAbove": Mapping(
            (pft("LEAF_M_c", 1.0, GC_M2), pft("SAP_M_AB_c", 1.0, GC_M2),
             pft("HEART_M_AB_c", 1.0, GC_M2)),
            GC_TO_KG, "cLeaf + cStem (above-ground sapwood + heartwood)",
        ),
        "cSoil": Mapping(
            (pft("SOIL_ACTIVE_c", 1.0, GC_M2), pft("SOIL_SLOW_c", 1.0, GC_M2),
             pft("SOIL_PASSIVE_c", 1.0, GC_M2)),
            GC_TO_KG,
        ),
        "mrso": Mapping((Term("mrso", 1.0, ("kg/m^2", "kg/m2", "kg m-2")),)),
        "mrsos": Mapping((Term("mrsos", 1.0, ("kg/m^2", "kg/m2", "kg m-2")),)),
        "cVeg": Mapping((pft("TOTAL_M_c", 1.0, GC_M2),), GC_TO_KG, optional=True),
    }


def def_lines(params: dict[str, ParamValue]) -> str:
    """ORCHIDEE .def syntax: ``KEY = v``, per-PFT lists as ``KEY__NN = v`` (NN from 01)."""
    lines = []
    for key, value in params.items():
        if isinstance(value, list):
            lines += [f"{key}__{i:02d} = {_def_value(v)}" for i, v in enumerate(value, start=1)]
        else:
            lines.append(f"{key} = {_def_value(value)}")
    return "\n".join(lines)


def _def_value(v: object) -> str:
    if isinstance(v, bool):
        return "y" if v else "n"
    return repr(v) if isinstance(v, float) else str(v)


@dataclass
class OrchideeDriver(TemplateDriver):
    """Render ORCHIDEE's run.def/orchidee.def and map its XIOS output."""

    name: str = "orchidee"
    template_dir: str = "orchidee"
    executable: str = "orchidee_ol"
    time_stamp: str = "mid"  # XIOS stamps averages at the centre of the interval
    pft_weight: str = "VEGET_COV_MAX"
    pft_dim: str = "veget"
    forcing_file: str = "forcing_{year_start}-{year_end}.nc"
    variable_map: VariableMap = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.variable_map:
            self.variable_map = _orchidee_map(self.pft_weight)

    def render_inputs(self, run: ModelRun) -> dict[str, str]:
        params = self.parameters(run)
        y0, y1 = run.years[0].year, run.years[-1].year
        rin = run.restart_in
        forcing = self.forcing_file.format(year_start=y0, year_end=y1)
        values = {
            "run_id": run.run_id, "year_start": f"{y0:04d}", "year_end": f"{y1:04d}",
            "forcing_file": self.input_path(run.forcing_dir / forcing, "forcing_file"),
            "sechiba_restart_in": (self.input_path(rin / "sechiba_rest.nc", "restart_in")
                                   if rin else "NONE"),
            "stomate_restart_in": (self.input_path(rin / "stomate_rest.nc", "restart_in")
                                   if rin else "NONE"),
            "driver_restart_in": (self.input_path(rin / "driver_rest.nc", "restart_in")
                                  if rin else "NONE"),
            "sechiba_restart_out": self.work_path(run, "restart", "sechiba_rest.nc"),
            "stomate_restart_out": self.work_path(run, "restart", "stomate_rest.nc"),
            "driver_restart_out": self.work_path(run, "restart", "driver_rest.nc"),
            "co2_file": self.work_path(run, "co2_annual.txt"),
            "out_dir": self.work_path(run, "out"),
            "stage": self.stage_label(run),
            "orchidee_parameters": def_lines(params),
        }
        return {f: render(self.template_dir, f, values) for f in ("run.def", "orchidee.def")}

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        if freq not in ("monthly", "annual"):
            raise ValueError(f"ORCHIDEE driver writes monthly output only; asked for {freq!r}")
        return [run.work_dir / "out" / "sechiba_history.nc",
                run.work_dir / "out" / "stomate_history.nc"]
