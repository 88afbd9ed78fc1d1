"""Driver for CABLE-POP (CABLE land surface model with CASA-CNP and the POP woody demography).

Inputs: ``cable.nml`` (the offline namelist: met, grid and parameter files, restarts of CABLE,
CASA-CNP, POP and the climate module, monthly grid-cell output) plus two parameter namelists
for the calibrated values (``cable_params.nml``, ``casa_pop_params.nml``). Run: ``mpirun -np N
cable-mpi`` in the run directory (CABLE reads ``cable.nml`` from the working directory).

Native output (ALMA names, ``cable_output.F90``): fluxes in umol m-2 s-1 (CO2) with NEE positive
to the atmosphere, W m-2, kg m-2 s-1; pools in kg C m-2; ``SoilMoist`` volumetric (m3 m-3, water
and ice) on CABLE's 6 soil layers. Mapping: nep = -NEE, reco = AutoResp + HeteroResp,
cLiveBioAbove = PlantCarbLeaf + f_above * PlantCarbWood (CASA's wood pool holds stems and coarse
roots; ``wood_above_fraction`` is the above-ground share), mrso/mrsos = soil moisture times
layer thickness (top 10 cm: all of layers 1-2 and 0.020 of layer 3's 0.154 m).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from callmip.drivers.base import (
    UMOL_CO2_TO_KGC,
    WATER_DENSITY,
    Mapping,
    ModelRun,
    NativeOutputError,
    Term,
    VariableMap,
)
from callmip.drivers.render import fortran, render
from callmip.drivers.template_driver import TemplateDriver

#: CABLE's default soil layer thicknesses, m (zse)
CABLE_ZSE = (0.022, 0.058, 0.154, 0.409, 1.085, 2.872)
#: parameters that go to casa_pop_params.nml; the rest go to cable_params.nml
CASA_POP_PARAMS = frozenset({"q10_soil", "leaf_turnover", "pop_max_height",
                             "pop_recruit_fraction"})

FLUX_CO2 = ("umol/m^2/s", "umol m-2 s-1")
POOL_C = ("kg C/m^2", "kgC/m^2", "kg C m-2")
W_M2 = ("W/m^2", "W m-2")
KG_M2_S = ("kg/m^2/s", "kg m-2 s-1")


def top_layer_weights(zse: tuple[float, ...], depth: float) -> tuple[float, ...]:
    """Thickness (m) of each layer that lies within the top ``depth`` metres."""
    out, top = [], 0.0
    for dz in zse:
        out.append(float(max(0.0, min(dz, depth - top))))
        top += dz
    return tuple(round(w, 12) for w in out)


def _cable_map(wood_above_fraction: float, zse: tuple[float, ...]) -> VariableMap:
    c = UMOL_CO2_TO_KGC
    thick = tuple(WATER_DENSITY * z for z in zse)
    top = tuple(WATER_DENSITY * z for z in top_layer_weights(zse, 0.1))
    return {
        "nep": Mapping((Term("NEE", -1.0, FLUX_CO2),), c, "nep = -NEE (NEE positive upward)"),
        "gpp": Mapping((Term("GPP", 1.0, FLUX_CO2),), c),
        "reco": Mapping((Term("AutoResp", 1.0, FLUX_CO2), Term("HeteroResp", 1.0, FLUX_CO2)), c,
                        "reco = ra + rh"),
        "hfls": Mapping((Term("Qle", 1.0, W_M2),)),
        "hfss": Mapping((Term("Qh", 1.0, W_M2),)),
        "hfg": Mapping((Term("Qg", 1.0, W_M2),)),
        "tran": Mapping((Term("TVeg", 1.0, KG_M2_S),)),
        "evspsblsoi": Mapping((Term("ESoil", 1.0, KG_M2_S),)),
        "ts": Mapping((Term("RadT", 1.0, ("K",)),)),
        "lai": Mapping((Term("LAI", 1.0, ("-", "1", "m^2/m^2")),)),
        "cLiveBioAbove": Mapping(
            (Term("PlantCarbLeaf", 1.0, POOL_C),
             Term("PlantCarbWood", wood_above_fraction, POOL_C)),
            note=f"cLiveBioAbove = cLeaf + {wood_above_fraction} * cWood",
        ),
        "cSoil": Mapping((Term("TotSoilCarb", 1.0, POOL_C),)),
        "mrso": Mapping((Term("SoilMoist", 1.0, ("m^3/m^3",), layers=thick),),
                        note="sum over layers of theta * dz * 1000"),
        "mrsos": Mapping((Term("SoilMoist", 1.0, ("m^3/m^3",), layers=top),),
                         note="theta * dz * 1000 over the top 0.1 m"),
        "cVeg": Mapping((Term("TotLivBiomass", 1.0, POOL_C),), optional=True),
        "cLitter": Mapping((Term("TotLittCarb", 1.0, POOL_C),), optional=True),
    }


@dataclass
class CablePopDriver(TemplateDriver):
    """Render CABLE-POP inputs and map its ALMA-style output."""

    name: str = "cable_pop"
    template_dir: str = "cable_pop"
    executable: str = "cable-mpi"
    time_stamp: str = "end"
    wood_above_fraction: float = 0.7
    soil_layer_thickness: tuple[float, ...] = CABLE_ZSE
    met_type: str = "trendy"
    #: CABLE ancillary files, relative to the forcing directory unless absolute
    gridinfo_file: str = "gridinfo_CSIRO_CRU05x05_4tiles.nc"
    veg_params_file: str = "def_veg_params.txt"
    soil_params_file: str = "def_soil_params.txt"
    casa_biome_file: str = "pftlookup.csv"
    casa_phen_file: str = "modis_phenology.txt"
    variable_map: VariableMap = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.variable_map:
            self.variable_map = _cable_map(self.wood_above_fraction, self.soil_layer_thickness)

    def render_inputs(self, run: ModelRun) -> dict[str, str]:
        """Text of every input file, by file name (what :meth:`prepare` writes)."""
        params = self.parameters(run)
        restart_in = run.restart_in
        rin = {k: (self.input_path(restart_in / f"{k}_rst.nc", f"restart_in {k}")
                   if restart_in else "") for k in ("cable", "casa", "pop", "climate")}
        values = {
            "run_id": run.run_id,
            "year_start": str(run.years[0].year),
            "year_end": str(run.years[-1].year),
            "met_dir": self.input_path(run.forcing_dir, "forcing_dir") + "/",
            "met_type": self.met_type,
            "out_file": self.work_path(run, "out", "cable_out.nc"),
            "log_file": self.work_path(run, "cable_log.txt"),
            "gridinfo_file": self.forcing_input(run, self.gridinfo_file, "gridinfo_file"),
            "veg_params_file": self.forcing_input(run, self.veg_params_file, "veg_params_file"),
            "soil_params_file": self.forcing_input(run, self.soil_params_file, "soil_params_file"),
            "casa_biome_file": self.forcing_input(run, self.casa_biome_file, "casa_biome_file"),
            "casa_phen_file": self.forcing_input(run, self.casa_phen_file, "casa_phen_file"),
            "pop_from_zero": fortran(restart_in is None),
            "casa_from_zero": fortran(restart_in is None),
            "co2_file": self.work_path(run, "co2_annual.txt"),
            "params_nml": self.work_path(run, "cable_params.nml"),
            "stage": self.stage_label(run),
        }
        for k in ("cable", "casa", "pop", "climate"):
            values[f"restart_in_{k}"] = rin[k]
            values[f"restart_out_{k}"] = self.work_path(run, "restart", f"{k}_rst.nc")
        values["cable_parameters"] = "\n".join(
            f"   {k} = {fortran(v)}" for k, v in params.items() if k not in CASA_POP_PARAMS)
        values["casa_pop_parameters"] = "\n".join(
            f"   {k} = {fortran(v)}" for k, v in params.items() if k in CASA_POP_PARAMS)
        return {f: render(self.template_dir, f, values)
                for f in ("cable.nml", "cable_params.nml", "casa_pop_params.nml")}

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        if freq not in ("monthly", "annual"):
            raise ValueError(f"CABLE-POP driver writes monthly output only; asked for {freq!r}")
        return [run.work_dir / "out" / "cable_out.nc"]

    def native_variables(self) -> set[str]:
        return super().native_variables() | {"latitude", "longitude"}

    def preprocess(self, native: xr.Dataset) -> xr.Dataset:
        """CABLE's (y, x) grid with 2-D latitude/longitude -> 1-D (lat, lon); monthly axis."""
        if "patch" in native.dims:
            raise NativeOutputError(
                "CABLE output has a 'patch' dimension: set output%patch = .FALSE. so CABLE "
                "writes grid-cell (patch-weighted) values"
            )
        if "x" in native.dims and "y" in native.dims:
            lat2d, lon2d = native.get("latitude"), native.get("longitude")
            if lat2d is not None and lat2d.ndim == 2:
                lat = np.asarray(lat2d.values)[:, 0]
                lon = np.asarray(lon2d.values)[0, :]
            else:
                lat, lon = native["y"].values, native["x"].values
            drop = [v for v in ("latitude", "longitude", "x", "y") if v in native.variables]
            native = native.drop_vars(drop).rename({"y": "lat", "x": "lon"})
            native = native.assign_coords(lat=("lat", lat), lon=("lon", lon))
        return super().preprocess(native)
