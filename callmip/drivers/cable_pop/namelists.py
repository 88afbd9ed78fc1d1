"""The four namelists of the CABLE-POP TRENDY branch, written for one chunk of one run.

Group names and keys are this branch's own (``offline/cable_driver.F90`` ``&cablenml``,
``offline/cable_cru_TRENDY.F90`` ``&crunml`` and ``&MetNames``, ``offline/cable_LUC_EXPT.F90``
``&lucnml``), not the ones of CABLE trunk or of the branch's stale example namelists (those set
keys this code rejects, e.g. ``ReadDiffFrac`` or ``NotPrimOnlyFile``, and leave ``windNo``,
``vph0900No`` and ``vph1500No`` unset, which made one run try to allocate 61 GB).

Every path is relative to the chunk's work directory, where CABLE runs: CASA's restart names
live in ``character(len=99)`` variables and longer (absolute) paths would be cut silently.
Inputs outside the work directory (restart of the previous segment, shared met files,
parameter tables) are reached through symlinks the driver makes in the work directory.

A group may set further ``&cablenml`` keys through the model's ``cable_nml`` option; CABLE
itself decides whether it knows them (a key it rejects stops the run, and the launcher reports
the namelist error CABLE printed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from callmip.constants import PREINDUSTRIAL_CO2_PPM
from callmip.drivers.render import RenderError

NmlValue = bool | int | float | str
#: a namelist entry name, e.g. ``cable_user%FWSOIL_SWITCH`` or ``output%grid``
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*(%[A-Za-z][A-Za-z0-9_]*)?")


def fortran_value(value: NmlValue) -> str:
    """A namelist value: logicals .TRUE./.FALSE., strings double-quoted, numbers as is."""
    if isinstance(value, bool):
        return ".TRUE." if value else ".FALSE."
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    if any(c in text for c in "\"\n\r\x00"):
        raise RenderError(f"namelist string {text!r} contains a character a namelist cannot hold")
    return f'"{text}"'


def namelist(group: str, values: Mapping[str, NmlValue | list[str]]) -> str:
    """``&group`` with one ``key = value`` line per entry (lists: space-separated strings)."""
    lines = [f"&{group}"]
    for key, value in values.items():
        if isinstance(value, list):
            text = " ".join(fortran_value(v) for v in value)
        else:
            text = fortran_value(value)
        lines.append(f"    {key} = {text}")
    lines.append("/")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ChunkSettings:
    """What changes between the runs of one chunk (the rest is the TRENDY configuration)."""

    year_start: int
    year_end: int
    restart_in: bool  # read restarts from rin/ (else start from zero)
    analytic: bool = False  # this is the CASA-only analytic spin-up step
    dump_write: bool = False  # write the daily CASA forcing for a later analytic step
    dt_hours: float = 3.0
    casa_out_freq: str = "monthly"


#: the cable_user switches of the TRENDY v12 run sequence (scripts/TRENDY_runs/v12/run_cable.sh)
#: that stay the same in every step of a run without land-use change
TRENDY_SWITCHES: dict[str, NmlValue] = {
    "cable_user%FWSOIL_SWITCH": "Haverd2013",
    "cable_user%litter": True,
    "cable_user%DIAG_SOIL_RESP": "ON ",
    "cable_user%LEAF_RESPIRATION": "ON ",
    "cable_user%RUN_DIAG_LEVEL": "BASIC",
    "cable_user%CONSISTENCY_CHECK": False,
    "cable_user%LogWorker": False,
    "cable_user%SSNOW_POTEV": "P-M",
    "cable_user%SOIL_STRUC": "default",
    "cable_user%CALL_POP": True,
    "cable_user%POP_out": "ini",
    "cable_user%RunIden": "cru",
    "cable_user%MetType": "cru",
    "cable_user%CALL_CLIMATE": True,
    "cable_user%PHENOLOGY_SWITCH": "climate",
    "cable_user%POPLUC": False,
    "cable_user%POPLUC_RunType": "static",
    "cable_user%vcmax": "Walker2014",
    "cable_user%gs_switch": "medlyn",
    "cable_user%explicit_gm": False,
    "cable_user%Rubisco_parameters": "Bernacchi_2002",
    "cable_user%coordinate_photosyn": True,
    "cable_user%g0_switch": "maximum",
    "cable_user%acclimate_photosyn": True,
    "cable_user%SRF": True,
    "cable_user%SMRF_NAME": "Trudinger2016",
    "cable_user%STRF_NAME": "LT1994",
    "cable_user%CALL_BLAZE": False,
    "cable_user%c13o2": False,
}

#: file names inside a chunk's work directory (all relative: see module docstring)
FILES = {
    "log": "cable_log.txt",
    "out": "out/cru_out_cable.nc",
    "casa_out": "out/cru_out_casa.nc",
    "cnpflux": "out/cnpfluxOut.csv",
    "restart_out": "restart/cru_cable_rst.nc",
    "restart_in": "rin/cru_cable_rst.nc",
    "casa_rst_out": "restart/cru_casa",
    "casa_rst_in": "rin/cru_casa",
    "pop_out": "restart/pop_cru_ini.nc",
    "pop_in": "rin/pop_cru_ini.nc",
    "climate_out": "restart/cru_climate_rst.nc",
    "climate_in": "rin/cru_climate_rst.nc",
    "luc_out": "restart/cru_LUC_rst.nc",
    "luc_in": "rin/cru_LUC_rst.nc",
    # the climate restart of a run without land use: each cell's biome (see .landuse)
    "luc_climate_out": "restart/luc_climate_rst.nc",
    "luc_climate_in": "rin/luc_climate_rst.nc",
    "luc_dir": "luc",
    "prim_only": "luc/prim_only.nc",
    "landmask": "inputs/landmask.nc",
    "gridinfo": "inputs/gridinfo.nc",
    "veg": "params/def_veg_params.txt",
    "soil": "params/def_soil_params.txt",
    "pftlookup": "params/pftlookup.csv",
    "co2": "inputs/co2.txt",
    "ndep": "inputs/NDep_<startdate>_<enddate>.nc",
}


def cable_nml(s: ChunkSettings, overrides: Mapping[str, NmlValue] | None = None) -> str:
    """``cable.nml`` (group ``&cablenml``) of one chunk and run step."""
    cold = not s.restart_in
    values: dict[str, NmlValue] = {
        "filename%met": "",
        "filename%path": "./",
        "filename%type": FILES["gridinfo"],
        "filename%veg": FILES["veg"],
        "filename%soil": FILES["soil"],
        "filename%log": FILES["log"],
        "filename%out": FILES["out"],
        "filename%restart_in": "" if cold else FILES["restart_in"],
        "filename%restart_out": FILES["restart_out"],
        "casafile%out": FILES["casa_out"],
        "casafile%cnpipool": "" if cold else FILES["casa_rst_in"],
        "casafile%cnpepool": FILES["casa_rst_out"],
        "casafile%cnpbiome": FILES["pftlookup"],
        "casafile%c2cdumppath": "dump/",
        "casafile%cnpflux": FILES["cnpflux"],
        "cable_user%POP_restart_in": "" if cold else FILES["pop_in"],
        "cable_user%POP_restart_out": FILES["pop_out"],
        "cable_user%LUC_restart_in": "" if cold else FILES["luc_in"],
        "cable_user%LUC_restart_out": FILES["luc_out"],
        "cable_user%climate_restart_in": "" if cold else FILES["climate_in"],
        "cable_user%climate_restart_out": FILES["climate_out"],
        "vegparmnew": True,
        "soilparmnew": True,
        "spinup": False,
        "output%grid": "land",
        "output%restart": True,
        "output%met": True,
        "output%flux": True,
        "output%soil": True,
        "output%snow": True,
        "output%radiation": True,
        "output%casa": True,
        "output%carbon": True,
        "output%veg": True,
        "output%params": False,
        "output%balances": True,
        "output%patch": False,
        "output%vars5D": False,
        "output%averaging": "monthly",
        "check%ranges": False,
        "check%energy_bal": True,
        "check%mass_bal": True,
        "verbose": False,
        "leaps": False,
        "logn": 88,
        "fixedCO2": PREINDUSTRIAL_CO2_PPM,  # unused: CO2 comes from the run's CO2 file
        "spincasainput": False,
        "spincasa": s.analytic,
        "l_casacnp": True,
        "l_laiFeedbk": True,
        "l_vcmaxFeedbk": True,
        "icycle": 12 if s.analytic else 2,
        "redistrb": False,
        "wiltParam": 0.5,
        "satuParam": 0.8,
        **TRENDY_SWITCHES,
        "cable_user%YearStart": s.year_start,
        "cable_user%YearEnd": s.year_end,
        "cable_user%CASA_OUT_FREQ": s.casa_out_freq,
        "cable_user%CASA_DUMP_READ": s.analytic,
        "cable_user%CASA_DUMP_WRITE": s.dump_write,
        "cable_user%CASA_SPIN_STARTYEAR": s.year_start,
        "cable_user%CASA_SPIN_ENDYEAR": s.year_end,
        "cable_user%CASA_NREP": 1,
        "cable_user%limit_labile": False,
        "cable_user%POP_fromZero": cold,
        "cable_user%CASA_fromZero": cold,
        "cable_user%CLIMATE_fromZero": cold,
    }
    for key, value in (overrides or {}).items():
        values[key] = value
    return namelist("cablenml", values)


def cru_nml(met_dir: str, dt_hours: float) -> str:
    """``cru.nml``: one file template per variable in ``met_dir`` (relative), no recycling
    (the run's met directory already maps each simulated year to its forcing year), yearly CO2
    and N deposition from the run's own files."""
    from callmip.drivers.cable_pop.inputs import CRU_FILE_KEYS

    values: dict[str, NmlValue] = {
        key: f"{met_dir}/{var}/{var}_<startdate>_<enddate>.nc"
        for var, key in CRU_FILE_KEYS.items()
    }
    values.update({
        "CO2File": FILES["co2"],
        "NDepFile": FILES["ndep"],
        "LandMaskFile": FILES["landmask"],
        "CO2Method": "Yearly",
        "NDepMethod": "Yearly",
        "DtHrs": float(dt_hours),
        "LeapYears": False,
        "DirectRead": False,
    })
    return namelist("crunml", values)


def met_names_nml() -> str:
    """``met_names.nml``: the variable names inside the met files; every count set."""
    names: dict[str, list[str]] = {
        "rain": ["pre"], "lwdn": ["dlwrf"], "swdn": ["tswrf"], "pres": ["pres"],
        "qair": ["spfh"], "Tmax": ["tmax"], "Tmin": ["tmin"], "uwind": ["ugrd"],
        "vwind": ["vgrd"], "wind": ["wind"], "vph0900": ["vph09"], "vph1500": ["vph15"],
        "fdiff": ["fd"],
    }
    values: dict[str, NmlValue | list[str]] = {}
    for var, options in names.items():
        values[f"{var}No"] = len(options)
        values[f"{var}Names"] = options
    return namelist("MetNames", values)


def luc_nml(year_start: int, year_end: int, climate_file: str = FILES["climate_in"],
            transition_dir: str = "luc", prim_only_file: str = "none") -> str:
    """``luc.nml`` (read only with ``cable_user%POPLUC``): the directory of the 23 land-use
    files (:mod:`.landuse`), the climate restart that gives each cell's biome, and the
    primary-only mask. Written for every run, so a run without land use has one too."""
    return namelist("lucnml", {
        "TransitionFilePath": transition_dir,
        "ClimateFile": climate_file,
        "DirectRead": False,
        "YearStart": year_start,
        "YearEnd": year_end,
        "PrimOnlyFile": prim_only_file,
    })
