"""Variable conventions of the three layouts the forcing stage speaks: CRU-JRA v2.5 (input),
ISIMIP3b (scenario input) and the model-ready files (output).

Contract: this module is data only (frozen dataclasses and constants); readers, checks,
generators and writers all take their names, units and physical bounds from here, so the layout
is defined in exactly one place.

What the CRU-JRA v2.5 conventions rest on (checked with public model code that reads the real
files, since the files themselves cannot be downloaded here):

* file name ``crujra.v2.5.5d.<var>.<year>.365d.noc.nc`` (distributed gzipped as ``.nc.gz``),
  one file per variable and year, 1460 6-hourly steps (00, 06, 12, 18 UTC), 365-day calendar:
  TEM's ``temds`` CRU-JRA module (``crujra.v{version}.5d.{variable}.{year}.365d.noc``), the
  CABLE-POP TRENDY v13 processing script (``crujra.v2.5.5d.${var}.${year}.365d.noc.nc.gz``),
  ICON-Land/JSBACH CRUJRA scripts.
* variables tmp, tmax, tmin, pre, spfh, dswrf, dlwrf, pres, ugrd, vgrd; units tmp/tmax/tmin K,
  pre mm per 6 h, spfh kg/kg, pres Pa, dlwrf W/m2, ugrd/vgrd m/s (JSBACH script's "old units"
  list and LPJ-style Fortran readers: "temperatures (K)", "precipitation (mm 6hr-1)",
  "specific humidities (kg kg-1)", "pressures (Pa)"); dswrf is the downward solar radiation
  *accumulated over the 6-hour step*, J/m2 (CRU-JRA documentation as given in our issue; TEM
  reads it as an energy sum and resamples it with 'sum'), so W m-2 = J m-2 / 21600.
* grid: 720 x 360 cell centres, longitude -179.75..179.75 and latitude -89.75..89.75, both
  increasing ("origin at IDL and SP" in the Fortran readers); variable ids time=1, lon=2, lat=3,
  data=4; ocean cells hold the netCDF default float fill 9.96921e36 (readers test
  ``value < 1e10`` for land). Time in ``days since 1901-01-01 00:00:00`` with a 365-day calendar.
* daily aggregation as TRENDY groups do it (CABLE v13 script): daymean for tmp, spfh, pres,
  dlwrf, dswrf, winds; daymax of tmax; daymin of tmin; daysum of pre. Wind speed is the mean of
  the 6-hourly speeds sqrt(u^2+v^2) (ICON/JSBACH and LPJ-GUESS scripts), not the speed of the
  mean wind.

ISIMIP3b (ISIMIP protocol and isimip-utils): ``<gcm>_<member>_w5e5_<ssp>_<var>_global_daily_
<y0>_<y1>.nc`` in decadal files (2015_2020, 2021_2030, ..., 2091_2100), member r1i1p1f1 except
UKESM1-0-LL (r1i1p1f2); variables tas, tasmax, tasmin (K), pr (kg m-2 s-1), rsds, rlds (W m-2),
ps (Pa), huss (kg kg-1), sfcwind (m s-1, lowercase in ISIMIP3b); 0.5 degree, latitude
89.75..-89.75 (decreasing), longitude -179.75..179.75, float32 with fill 1e20, time in
``days since 1601-1-1 00:00:00`` on the proleptic_gregorian calendar (so leap days exist and
are dropped for our 365-day model calendar).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from callmip.constants import DAYS_PER_YEAR

SECONDS_PER_STEP = 21600.0
"""Length of one CRU-JRA step (6 h) in seconds."""
STEPS_PER_DAY = 4
STEPS_PER_YEAR = STEPS_PER_DAY * DAYS_PER_YEAR

CRUJRA_VERSION = "2.5"
CRUJRA_FILL_VALUE = np.float32(9.96921e36)
"""netCDF's default float fill, used by CRU-JRA over the ocean."""
CRUJRA_TIME_UNITS = "days since 1901-01-01 00:00:00"
CRUJRA_CALENDAR = "365_day"
NOLEAP_CALENDARS = frozenset({"365_day", "noleap"})

ISIMIP_FILL_VALUE = np.float32(1e20)
ISIMIP_TIME_UNITS = "days since 1601-1-1 00:00:00"
ISIMIP_CALENDAR = "proleptic_gregorian"
ISIMIP_SSPS = ("ssp126", "ssp370", "ssp585")
ISIMIP_GCM_MEMBERS = {
    "gfdl-esm4": "r1i1p1f1",
    "ipsl-cm6a-lr": "r1i1p1f1",
    "mpi-esm1-2-hr": "r1i1p1f1",
    "mri-esm2-0": "r1i1p1f1",
    "ukesm1-0-ll": "r1i1p1f2",
}
"""The five ISIMIP3b primary GCMs and the ensemble member ISIMIP3b uses for each."""


def normalise_units(units: str) -> str:
    """Lower-case, single-spaced unit string, so that 'W/m2' and 'W / m2' compare equal."""
    return " ".join(units.replace("**", "^").strip().lower().split())


_KELVIN = frozenset({"k", "kelvin", "degrees kelvin", "degree kelvin", "degk", "deg k"})
_W_M2 = frozenset({"w/m2", "w m-2", "w/m^2", "w m^-2", "w.m-2", "watt m-2", "w/m**2"})
_KG_KG = frozenset({"kg/kg", "kg kg-1", "kg kg^-1", "1", "kg.kg-1"})
_PA = frozenset({"pa", "pascal", "pascals"})
_M_S = frozenset({"m/s", "m s-1", "m s^-1", "m.s-1"})


@dataclass(frozen=True)
class SourceVariable:
    """One variable of an input layout: its name, units as written, and physical bounds.

    Bounds are deliberately generous (records plus margin): they catch wrong units and broken
    files, not unusual weather.
    """

    name: str
    long_name: str
    units: str
    accepted_units: frozenset[str]
    valid_min: float
    valid_max: float

    def accepts_units(self, units: str) -> bool:
        return normalise_units(units) in self.accepted_units


CRUJRA_VARIABLES: tuple[str, ...] = (
    "tmp",
    "tmax",
    "tmin",
    "pre",
    "spfh",
    "dswrf",
    "dlwrf",
    "pres",
    "ugrd",
    "vgrd",
)

_T_MIN, _T_MAX = 170.0, 340.0  # K; records are 184 K and 330 K
CRUJRA_SPECS: dict[str, SourceVariable] = {
    "tmp": SourceVariable("tmp", "Temperature at 2m", "K", _KELVIN, _T_MIN, _T_MAX),
    "tmax": SourceVariable("tmax", "Maximum temperature at 2m", "K", _KELVIN, _T_MIN, _T_MAX),
    "tmin": SourceVariable("tmin", "Minimum temperature at 2m", "K", _KELVIN, _T_MIN, _T_MAX),
    "pre": SourceVariable(
        "pre",
        "Total Precipitation",
        "mm/6h",
        frozenset({"mm/6h", "mm 6h-1", "mm/6hr", "mm 6hr-1", "kg m-2 6h-1", "kg/m2/6h"}),
        0.0,
        1000.0,
    ),
    "spfh": SourceVariable("spfh", "Specific humidity at 2m", "kg/kg", _KG_KG, 0.0, 0.05),
    "dswrf": SourceVariable(
        "dswrf",
        "Downward solar radiation flux",
        "J/m2",
        frozenset({"j/m2", "j m-2", "j/m^2", "j m^-2", "j.m-2"}),
        0.0,
        1400.0 * SECONDS_PER_STEP,  # 6-hour mean cannot exceed the solar constant
    ),
    "dlwrf": SourceVariable(
        "dlwrf", "Downward long wave radiation flux", "W/m2", _W_M2, 30.0, 700.0
    ),
    "pres": SourceVariable("pres", "Pressure", "Pa", _PA, 30000.0, 110000.0),
    "ugrd": SourceVariable("ugrd", "U wind component at 10m", "m/s", _M_S, -100.0, 100.0),
    "vgrd": SourceVariable("vgrd", "V wind component at 10m", "m/s", _M_S, -100.0, 100.0),
}

SUPERSATURATION_TOLERANCE = 1.05
"""spfh may exceed saturation at the step's tmax and pres by at most this factor (fog and
rounding in reanalysis); more means wrong units or a broken file."""

Reduce = Literal["mean", "max", "min"]


@dataclass(frozen=True)
class ModelVariable:
    """One variable of the model-ready files and how it is made from CRU-JRA.

    ``scale`` converts the source's per-step unit into the model unit after time reduction
    (e.g. pre mm per 6 h -> kg m-2 s-1 divides by 21600).
    """

    name: str
    standard_name: str
    long_name: str
    units: str
    sources: tuple[str, ...]
    reduce: Reduce
    scale: float
    isimip_name: str
    valid_min: float
    valid_max: float


MODEL_VARIABLES: dict[str, ModelVariable] = {
    "tas": ModelVariable(
        "tas",
        "air_temperature",
        "Near-Surface Air Temperature",
        "K",
        ("tmp",),
        "mean",
        1.0,
        "tas",
        _T_MIN,
        _T_MAX,
    ),
    "tasmax": ModelVariable(
        "tasmax",
        "air_temperature",
        "Daily Maximum Near-Surface Air Temperature",
        "K",
        ("tmax",),
        "max",
        1.0,
        "tasmax",
        _T_MIN,
        _T_MAX,
    ),
    "tasmin": ModelVariable(
        "tasmin",
        "air_temperature",
        "Daily Minimum Near-Surface Air Temperature",
        "K",
        ("tmin",),
        "min",
        1.0,
        "tasmin",
        _T_MIN,
        _T_MAX,
    ),
    "pr": ModelVariable(
        "pr",
        "precipitation_flux",
        "Precipitation",
        "kg m-2 s-1",
        ("pre",),
        "mean",
        1.0 / SECONDS_PER_STEP,
        "pr",
        0.0,
        1000.0 / SECONDS_PER_STEP,
    ),
    "rsds": ModelVariable(
        "rsds",
        "surface_downwelling_shortwave_flux_in_air",
        "Surface Downwelling Shortwave Radiation",
        "W m-2",
        ("dswrf",),
        "mean",
        1.0 / SECONDS_PER_STEP,
        "rsds",
        0.0,
        1400.0,
    ),
    "rlds": ModelVariable(
        "rlds",
        "surface_downwelling_longwave_flux_in_air",
        "Surface Downwelling Longwave Radiation",
        "W m-2",
        ("dlwrf",),
        "mean",
        1.0,
        "rlds",
        30.0,
        700.0,
    ),
    "huss": ModelVariable(
        "huss",
        "specific_humidity",
        "Near-Surface Specific Humidity",
        "kg kg-1",
        ("spfh",),
        "mean",
        1.0,
        "huss",
        0.0,
        0.05,
    ),
    "ps": ModelVariable(
        "ps",
        "surface_air_pressure",
        "Surface Air Pressure",
        "Pa",
        ("pres",),
        "mean",
        1.0,
        "ps",
        30000.0,
        110000.0,
    ),
    "sfcWind": ModelVariable(
        "sfcWind",
        "wind_speed",
        "Near-Surface Wind Speed",
        "m s-1",
        ("ugrd", "vgrd"),
        "mean",
        1.0,
        "sfcwind",
        0.0,
        100.0,
    ),
}
MODEL_VARIABLE_NAMES: tuple[str, ...] = tuple(MODEL_VARIABLES)

ISIMIP_VARIABLES: tuple[str, ...] = (
    "tas",
    "tasmax",
    "tasmin",
    "pr",
    "rsds",
    "rlds",
    "ps",
    "huss",
    "sfcwind",
)
_ISIMIP_UNITS = {
    "tas": ("K", _KELVIN),
    "tasmax": ("K", _KELVIN),
    "tasmin": ("K", _KELVIN),
    "pr": ("kg m-2 s-1", frozenset({"kg m-2 s-1", "kg/m2/s", "kg m^-2 s^-1", "mm s-1", "mm/s"})),
    "rsds": ("W m-2", _W_M2),
    "rlds": ("W m-2", _W_M2),
    "ps": ("Pa", _PA),
    "huss": ("kg kg-1", _KG_KG),
    "sfcwind": ("m s-1", _M_S),
}
ISIMIP_TO_MODEL = {v.isimip_name: k for k, v in MODEL_VARIABLES.items()}
ISIMIP_SPECS: dict[str, SourceVariable] = {
    name: SourceVariable(
        name,
        MODEL_VARIABLES[ISIMIP_TO_MODEL[name]].long_name,
        _ISIMIP_UNITS[name][0],
        _ISIMIP_UNITS[name][1],
        MODEL_VARIABLES[ISIMIP_TO_MODEL[name]].valid_min,
        # daily means are tighter than 6-hourly values, but the record bounds still apply
        MODEL_VARIABLES[ISIMIP_TO_MODEL[name]].valid_max,
    )
    for name in ISIMIP_VARIABLES
}
