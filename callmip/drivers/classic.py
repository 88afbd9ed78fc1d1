"""Driver for CLASSIC (Canadian Land Surface Scheme Including biogeochemical Cycles).

Inputs: ``job_options_file.txt`` (the ``&joboptions`` namelist: per-variable meteorology files,
init and restart files, run parameters file, CO2 file, output settings) and
``run_parameters.txt`` (the ``&classicparams`` namelist with the calibrated values). CLASSIC
overwrites ``rs_file_to_overwrite`` in place, so :meth:`prepare` copies the restart (or the
initialisation file) to ``rsFile.nc`` in the run directory first. Run: ``mpirun -np N
CLASSIC_parallel job_options_file.txt W/E/S/N``.

Native output: one netCDF file per variable and frequency (``<var>_monthly.nc``), grid-cell
means with CMIP-like names and units, as in the CalLMIP reference file made by CLASSIC: nep
(already positive into the land), gpp, ra, rh, hfls, hfss, hfg, tran, evspsblsoi, ts, lai,
cLeaf, cStem, cSoil, mrso, and ``mrsol`` per soil layer (kg m-2). Mapping: identity with unit
checks, reco = ra + rh, cLiveBioAbove = cLeaf + cStem, mrsos = the part of ``mrsol`` in the top
0.1 m (layer thicknesses ``soil_layer_thickness``).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from callmip import atomic
from callmip.drivers.base import Mapping, ModelRun, Term, VariableMap
from callmip.drivers.cable_pop import top_layer_weights
from callmip.drivers.render import RenderError, fortran, render, safe_token
from callmip.drivers.template_driver import TemplateDriver

C_FLUX = ("kgC m-2 s-1", "kg C m-2 s-1", "kg m-2 s-1")
C_POOL = ("kgC m-2", "kg C m-2", "kg m-2")
W_M2 = ("W m-2",)
KG_M2_S = ("kg m-2 s-1",)
KG_M2 = ("kg m-2",)
#: CLASS's standard three soil layers, m
CLASS_LAYERS = (0.10, 0.25, 3.75)


def _classic_map(layers: tuple[float, ...]) -> VariableMap:
    top = tuple(w / dz for w, dz in zip(top_layer_weights(layers, 0.1), layers, strict=True))
    return {
        "nep": Mapping((Term("nep", 1.0, C_FLUX),), note="CLASSIC nep is positive into the land"),
        "gpp": Mapping((Term("gpp", 1.0, C_FLUX),)),
        "reco": Mapping((Term("ra", 1.0, C_FLUX), Term("rh", 1.0, C_FLUX)), note="ra + rh"),
        "hfls": Mapping((Term("hfls", 1.0, W_M2),)),
        "hfss": Mapping((Term("hfss", 1.0, W_M2),)),
        "hfg": Mapping((Term("hfg", 1.0, W_M2),), optional=True),
        "tran": Mapping((Term("tran", 1.0, KG_M2_S),)),
        "evspsblsoi": Mapping((Term("evspsblsoi", 1.0, KG_M2_S),)),
        "ts": Mapping((Term("ts", 1.0, ("K",)),)),
        "lai": Mapping((Term("lai", 1.0, ("m2 m-2", "1", "m2/m2")),)),
        "cLiveBioAbove": Mapping((Term("cLeaf", 1.0, C_POOL), Term("cStem", 1.0, C_POOL)),
                                 note="cLeaf + cStem"),
        "cSoil": Mapping((Term("cSoil", 1.0, C_POOL),)),
        "mrso": Mapping((Term("mrso", 1.0, KG_M2),)),
        "mrsos": Mapping((Term("mrsol", 1.0, KG_M2, layers=top),),
                         note="mrsol in the top 0.1 m (share of each layer's thickness)"),
        "cVeg": Mapping((Term("cVeg", 1.0, C_POOL),), optional=True),
        "cLitter": Mapping((Term("cLitter", 1.0, C_POOL),), optional=True),
    }


@dataclass
class ClassicDriver(TemplateDriver):
    """Render CLASSIC's job options and parameter namelists; map its per-variable output."""

    name: str = "classic"
    template_dir: str = "classic"
    executable: str = "CLASSIC_parallel"
    time_stamp: str = "mid"
    #: W/E/S/N domain given to CLASSIC_parallel
    domain: str = "-180/180/-90/90"
    #: initialisation file for runs without a restart (relative to the forcing directory)
    init_file: str = "initfile.nc"
    xml_file: str = "outputVariableDescriptors.xml"
    soil_layer_thickness: tuple[float, ...] = CLASS_LAYERS
    variable_map: VariableMap = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.variable_map:
            self.variable_map = _classic_map(self.soil_layer_thickness)

    def _domain(self) -> str:
        parts = self.domain.split("/")
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            vals = []
        if len(vals) != 4 or not (-180 <= vals[0] < vals[1] <= 360 and -90 <= vals[2] < vals[3]
                                  <= 90):
            raise RenderError(f"classic driver: domain={self.domain!r} is not W/E/S/N degrees")
        return self.domain

    def render_inputs(self, run: ModelRun) -> dict[str, str]:
        params = self.parameters(run)
        y0, y1 = run.years[0].year, run.years[-1].year
        init = (self.input_path(run.restart_in, "restart_in") if run.restart_in
                else self.forcing_input(run, self.init_file, "init_file"))
        values = {
            "run_id": safe_token(run.run_id, "run_id"),
            "year_start": str(y0), "year_end": str(y1),
            "forcing_start": str(min(y.forcing_year for y in run.years)),
            "forcing_end": str(max(y.forcing_year for y in run.years)),
            "met_dir": self.input_path(run.forcing_dir, "forcing_dir"),
            "init_file": init,
            "rs_file": self.work_path(run, "rsFile.nc"),
            "runparams_file": self.work_path(run, "run_parameters.txt"),
            "co2_file": self.work_path(run, "co2_annual.nc"),
            "out_dir": self.work_path(run, "output"),
            "xml_file": self.forcing_input(run, self.xml_file, "xml_file"),
            "stage": self.stage_label(run),
            "classic_parameters": "\n".join(f"    {k} = {fortran(v)}," for k, v in params.items()),
        }
        return {f: render(self.template_dir, f, values)
                for f in ("job_options_file.txt", "run_parameters.txt")}

    def write_co2_netcdf(self, run: ModelRun) -> Path:
        """Annual CO2 (ppm) of the run's years as netCDF, the form CLASSIC reads."""
        path = run.work_dir / "co2_annual.nc"
        ds = xr.Dataset(
            {"mole_fraction_of_carbon_dioxide_in_air": (
                "time", np.array([y.co2_ppm for y in run.years], dtype="float64"),
                {"units": "ppm"})},
            coords={"time": ("time", np.array([y.year for y in run.years], dtype="float64"),
                             {"units": "year", "long_name": "calendar year"})},
        )
        with atomic.atomic_path(path) as tmp:
            ds.to_netcdf(tmp)
        return path

    def prepare(self, run: ModelRun) -> list[str]:
        texts = self.render_inputs(run)
        run.work_dir.mkdir(parents=True, exist_ok=True)
        (run.work_dir / "output").mkdir(exist_ok=True)
        source = Path(run.restart_in) if run.restart_in else Path(
            self.forcing_input(run, self.init_file, "init_file"))
        if not source.is_file():
            raise RenderError(f"classic driver: restart/init file {source} does not exist")
        rs = run.work_dir / "rsFile.nc"
        with atomic.atomic_path(rs) as tmp:
            shutil.copyfile(source, tmp)  # CLASSIC overwrites this file in place
        self.write_co2_netcdf(run)
        for name, text in texts.items():
            atomic.write_text(run.work_dir / name, text)
        return self.launch("job_options_file.txt", self._domain())

    def restart_out(self, run: ModelRun) -> Path:
        return run.work_dir / "rsFile.nc"

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        if freq not in ("monthly", "annual"):
            raise ValueError(f"CLASSIC driver conforms monthly output; asked for {freq!r}")
        out = run.work_dir / "output"
        required = {n for ns in self.required_natives().values() for n in ns}
        optional = {n for m in self.variable_map.values() if m.optional for n in m.natives()}
        return [out / f"{n}_monthly.nc" for n in sorted(required | optional)
                if n in required or (out / f"{n}_monthly.nc").exists()]
