"""Native-style output of CABLE-POP, ORCHIDEE, CTSM and CLASSIC, built from known CalLMIP fields.

Each builder takes a "truth" (CalLMIP variables in CalLMIP units on a small grid, 2 years of
monthly means) and writes what the model would write for it, using the model's documented
names, units, sign conventions, dimensions and time stamps. Conforming those files must give
the truth back, which tests names, unit conversions, signs and derived variables at once.
"""

from __future__ import annotations

from pathlib import Path

import cftime
import netCDF4
import numpy as np

from callmip.drivers.base import GC_PER_DAY_TO_KGC_PER_S, UMOL_CO2_TO_KGC
from callmip.drivers.cable_pop import CABLE_ZSE

YEARS = (2003, 2004)
LAT = np.array([-30.0, 0.0, 30.0])
LON = np.array([-135.0, -45.0, 45.0, 135.0])
NT = 12 * len(YEARS)
N_PFT = 4


def month_edges() -> list[tuple[cftime.DatetimeNoLeap, cftime.DatetimeNoLeap]]:
    return [(cftime.DatetimeNoLeap(y, m, 1), cftime.DatetimeNoLeap(y + (m == 12), m % 12 + 1, 1))
            for y in YEARS for m in range(1, 13)]


def make_truth(seed: int = 0) -> dict[str, np.ndarray]:
    """CalLMIP fields (time, lat, lon) with one ocean cell (NaN) and plausible magnitudes."""
    rng = np.random.default_rng(seed)
    shape = (NT, LAT.size, LON.size)

    def u(lo, hi):
        x = rng.uniform(lo, hi, shape)
        x[:, 0, 0] = np.nan  # ocean
        return x

    t = {
        "gpp": u(0.0, 1.5e-7), "hfls": u(0, 150), "hfss": u(-20, 120), "hfg": u(-10, 10),
        "tran": u(0, 4e-5), "evspsblsoi": u(0, 2e-5), "ts": u(250, 310), "lai": u(0, 6),
        "cLeaf": u(0.05, 0.5), "cStem": u(0.5, 9.0), "cSoil": u(2.0, 30.0),
    }
    t["ra"] = 0.45 * t["gpp"]
    t["rh"] = u(1e-8, 6e-8)
    t["fire"] = u(0.0, 2e-9)
    t["reco"] = t["ra"] + t["rh"]
    t["nep"] = t["gpp"] - t["reco"] - t["fire"]
    t["cLiveBioAbove"] = t["cLeaf"] + t["cStem"]
    return t


def _write(path: Path, dims: dict[str, int], coords: dict, variables: dict, attrs=None) -> Path:
    """A plain netCDF4 file: coords {name: (dims, values, attrs)}, variables likewise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with netCDF4.Dataset(path, "w") as nc:
        for d, n in dims.items():
            nc.createDimension(d, n)
        for name, (vdims, values, vattrs) in {**coords, **variables}.items():
            arr = np.asarray(values)
            fill = np.float32(1e20) if arr.dtype.kind == "f" and np.isnan(arr).any() else None
            var = nc.createVariable(name, arr.dtype if arr.dtype.kind != "f" else "f8", vdims,
                                    fill_value=fill)
            var.setncatts(vattrs)
            var[:] = np.ma.masked_invalid(arr) if fill is not None else arr
        nc.setncatts(attrs or {})
    return path


def cable_files(path: Path, t: dict, wood_above: float = 0.7) -> tuple[Path, np.ndarray]:
    """CABLE monthly output as the driver's chunk merge writes it: (time, lat, lon) and
    (time, soil, lat, lon), CABLE's names and units, records stamped mid-month in seconds
    since the first year; ``TotSoilCarb`` is soil *and* litter carbon, as CABLE writes it.
    Returns the soil moisture."""
    c = UMOL_CO2_TO_KGC
    rng = np.random.default_rng(5)
    theta = rng.uniform(0.05, 0.45, (NT, len(CABLE_ZSE), LAT.size, LON.size))
    theta[:, :, 0, 0] = np.nan
    mids = [lo + (hi - lo) / 2 for lo, hi in month_edges()]
    secs = netCDF4.date2num(mids, "seconds since 2003-01-01 00:00:00", "noleap")
    g = ("time", "lat", "lon")
    flux, w, kg = "umol/m^2/s", "W/m^2", "kg/m^2/s"
    litter = 0.1 * t["cSoil"]
    v = {
        "NEE": (g, -t["nep"] / c, {"units": flux}), "GPP": (g, t["gpp"] / c, {"units": flux}),
        "AutoResp": (g, t["ra"] / c, {"units": flux}),
        # CABLE's NEE includes no separate fire term here: HeteroResp carries it
        "HeteroResp": (g, (t["rh"] + t["fire"]) / c, {"units": flux}),
        "Qle": (g, t["hfls"], {"units": w}), "Qh": (g, t["hfss"], {"units": w}),
        "Qg": (g, t["hfg"], {"units": w}), "TVeg": (g, t["tran"], {"units": kg}),
        "ESoil": (g, t["evspsblsoi"], {"units": kg}), "RadT": (g, t["ts"], {"units": "K"}),
        "LAI": (g, t["lai"], {"units": "-"}),
        "PlantCarbLeaf": (g, t["cLeaf"], {"units": "kg C/m^2"}),
        "PlantCarbWood": (g, t["cStem"] / wood_above, {"units": "kg C/m^2"}),
        "TotSoilCarb": (g, t["cSoil"] + litter, {"units": "kg C/m^2",
                                                 "long_name": "Total Soil and Litter Carbon"}),
        "TotLittCarb": (g, litter, {"units": "kg C/m^2"}),
        "TotLivBiomass": (g, t["cLeaf"] + t["cStem"] / wood_above, {"units": "kg C/m^2"}),
        "SoilMoist": (("time", "soil", "lat", "lon"), theta, {"units": "m^3/m^3"}),
    }
    coords = {"time": (("time",), secs, {"units": "seconds since 2003-01-01 00:00:00",
                                         "calendar": "noleap"}),
              "lat": (("lat",), LAT, {"units": "degrees_north"}),
              "lon": (("lon",), LON, {"units": "degrees_east"})}
    dims = {"time": NT, "soil": len(CABLE_ZSE), "lat": LAT.size, "lon": LON.size}
    return _write(path, dims, coords, v), theta


def clm_files(run_dir: Path, case: str, t: dict, drop: tuple[str, ...] = (),
              units: dict | None = None) -> list[Path]:
    """CTSM h0 files, one per month, stamped at the end of the month with time_bounds."""
    units = units or {}
    rng = np.random.default_rng(6)
    liq = rng.uniform(100, 900, t["gpp"].shape)
    ice = rng.uniform(0, 50, t["gpp"].shape)
    top = rng.uniform(5, 40, t["gpp"].shape)
    for a in (liq, ice, top):
        a[:, 0, 0] = np.nan
    g = ("time", "lat", "lon")
    fields = {
        "NEE": -t["nep"] * 1e3, "GPP": t["gpp"] * 1e3, "AR": t["ra"] * 1e3,
        "HR": (t["rh"] + t["fire"]) * 1e3, "EFLX_LH_TOT": t["hfls"], "FSH": t["hfss"],
        "FGR": t["hfg"], "QVEGT": t["tran"], "QSOIL": t["evspsblsoi"], "TSKIN": t["ts"],
        "TLAI": t["lai"], "LEAFC": t["cLeaf"] * 1e3, "LIVESTEMC": 0.2 * t["cStem"] * 1e3,
        "DEADSTEMC": 0.8 * t["cStem"] * 1e3, "TOTSOMC": t["cSoil"] * 1e3,
        "TOTSOILLIQ": liq, "TOTSOILICE": ice, "SOILWATER_10CM": top,
    }
    u = {"NEE": "gC/m^2/s", "GPP": "gC/m^2/s", "AR": "gC/m^2/s", "HR": "gC/m^2/s",
         "EFLX_LH_TOT": "W/m^2", "FSH": "W/m^2", "FGR": "W/m^2", "QVEGT": "mm/s",
         "QSOIL": "mm/s", "TSKIN": "K", "TLAI": "m^2/m^2", "LEAFC": "gC/m^2",
         "LIVESTEMC": "gC/m^2", "DEADSTEMC": "gC/m^2", "TOTSOMC": "gC/m^2",
         "TOTSOILLIQ": "kg/m2", "TOTSOILICE": "kg/m2", "SOILWATER_10CM": "kg/m2"}
    u.update(units)
    out = []
    for i, (lo, hi) in enumerate(month_edges()):
        tu = "days since 2003-01-01 00:00:00"
        b = netCDF4.date2num([lo, hi], tu, "noleap")
        coords = {
            "time": (("time",), [b[1]], {"units": tu, "calendar": "noleap",
                                         "bounds": "time_bounds"}),
            "lat": (("lat",), LAT, {"units": "degrees_north"}),
            "lon": (("lon",), LON, {"units": "degrees_east"}),
        }
        v = {k: (g, a[i: i + 1], {"units": u[k]}) for k, a in fields.items() if k not in drop}
        v["time_bounds"] = (("time", "hist_interval"), np.array([b]), {})
        path = run_dir / f"{case}.clm2.h0.{lo.year:04d}-{lo.month:02d}.nc"
        out.append(_write(path, {"time": 1, "lat": LAT.size, "lon": LON.size,
                                 "hist_interval": 2}, coords, v))
    t["_clm_mrso"], t["_clm_mrsos"] = liq + ice, top
    return out


def orchidee_files(out_dir: Path, t: dict) -> tuple[list[Path], np.ndarray]:
    """XIOS sechiba/stomate history: per-PFT stomate fields (per m2 of PFT) + VEGET_COV_MAX."""
    rng = np.random.default_rng(7)
    shape_p = (NT, N_PFT, LAT.size, LON.size)
    vm = rng.dirichlet(np.ones(N_PFT), size=(LAT.size, LON.size)).transpose(2, 0, 1)
    vm = np.broadcast_to(vm, shape_p).copy()
    vm[:, :, 0, 0] = np.nan

    def split(total: np.ndarray) -> np.ndarray:
        """Per-PFT values (per m2 of PFT) whose cover-weighted sum is ``total``."""
        share = rng.uniform(0.2, 1.0, shape_p)
        norm = np.nansum(share * vm, axis=1, keepdims=True)
        share = share / np.where(norm > 0, norm, np.nan)
        return share * total[:, None]

    f = GC_PER_DAY_TO_KGC_PER_S
    gc = "gC/m^2/day"
    mid = [lo + (hi - lo) / 2 for lo, hi in month_edges()]
    tu = "seconds since 2003-01-01 00:00:00"
    tc = netCDF4.date2num(mid, tu, "noleap")
    tb = np.array([netCDF4.date2num([lo, hi], tu, "noleap") for lo, hi in month_edges()])
    coords = {
        "time_counter": (("time_counter",), tc, {"units": tu, "calendar": "noleap",
                                                 "bounds": "time_counter_bounds"}),
        "lat": (("lat",), LAT, {"units": "degrees_north"}),
        "lon": (("lon",), LON, {"units": "degrees_east"}),
    }
    g = ("time_counter", "lat", "lon")
    gp = ("time_counter", "veget", "lat", "lon")
    rng2 = np.random.default_rng(8)
    mrso, mrsos = rng2.uniform(50, 900, t["gpp"].shape), rng2.uniform(2, 40, t["gpp"].shape)
    mrso[:, 0, 0] = mrsos[:, 0, 0] = np.nan
    sech = {
        "fluxlat": (g, t["hfls"], {"units": "W/m^2"}), "fluxsens": (g, t["hfss"], {"units": "W/m^2"}),
        "soilflx": (g, t["hfg"], {"units": "W/m^2"}), "TVeg": (g, t["tran"], {"units": "kg/m^2/s"}),
        "vevapnu_alma": (g, t["evspsblsoi"], {"units": "kg/m^2/s"}),
        "temp_sol_new": (g, t["ts"], {"units": "K"}),
        "mrso": (g, mrso, {"units": "kg/m^2"}), "mrsos": (g, mrsos, {"units": "kg/m^2"}),
        "time_counter_bounds": (("time_counter", "axis_nbounds"), tb, {}),
    }
    stom = {
        "VEGET_COV_MAX": (gp, vm, {"units": "-"}),
        "GPP": (gp, split(t["gpp"] / f), {"units": gc}),
        "MAINT_RESP": (gp, split(0.6 * t["ra"] / f), {"units": gc}),
        "GROWTH_RESP": (gp, split(0.4 * t["ra"] / f), {"units": gc}),
        "HET_RESP": (gp, split(t["rh"] / f), {"units": gc}),
        "CO2_FIRE": (gp, split(t["fire"] / f), {"units": gc}),
        "LAI": (gp, split(t["lai"]), {"units": "m^2/m^2"}),
        "LEAF_M_c": (gp, split(t["cLeaf"] * 1e3), {"units": "gC/m^2"}),
        "SAP_M_AB_c": (gp, split(0.3 * t["cStem"] * 1e3), {"units": "gC/m^2"}),
        "HEART_M_AB_c": (gp, split(0.7 * t["cStem"] * 1e3), {"units": "gC/m^2"}),
        "SOIL_ACTIVE_c": (gp, split(0.1 * t["cSoil"] * 1e3), {"units": "gC/m^2"}),
        "SOIL_SLOW_c": (gp, split(0.5 * t["cSoil"] * 1e3), {"units": "gC/m^2"}),
        "SOIL_PASSIVE_c": (gp, split(0.4 * t["cSoil"] * 1e3), {"units": "gC/m^2"}),
        "time_counter_bounds": (("time_counter", "axis_nbounds"), tb, {}),
    }
    dims = {"time_counter": NT, "lat": LAT.size, "lon": LON.size, "axis_nbounds": 2}
    a = _write(out_dir / "sechiba_history.nc", dims, coords, sech)
    b = _write(out_dir / "stomate_history.nc", {**dims, "veget": N_PFT}, coords, stom)
    t["_orc_mrso"], t["_orc_mrsos"] = mrso, mrsos
    return [a, b], vm


def classic_files(out_dir: Path, t: dict, layers=(0.10, 0.25, 3.75)) -> list[Path]:
    """CLASSIC per-variable monthly files with CMIP-like names, 365_day calendar."""
    rng = np.random.default_rng(9)
    mrsol = rng.uniform(5, 300, (NT, len(layers), LAT.size, LON.size))
    mrsol[:, :, 0, 0] = np.nan
    mid = [lo + (hi - lo) / 2 for lo, hi in month_edges()]
    tu = "days since 2003-01-01 00:00"
    coords = {
        "time": (("time",), netCDF4.date2num(mid, tu, "365_day"),
                 {"units": tu, "calendar": "365_day"}),
        "lat": (("lat",), LAT, {"units": "degrees_north"}),
        "lon": (("lon",), LON, {"units": "degrees_east"}),
    }
    cf, wm, kg, cp = "kgC m-2 s-1", "W m-2", "kg m-2 s-1", "kgC m-2"
    fields = {
        "nep": (t["nep"], cf), "gpp": (t["gpp"], cf), "ra": (t["ra"], cf),
        "rh": (t["rh"] + t["fire"], cf), "hfls": (t["hfls"], wm), "hfss": (t["hfss"], wm),
        "hfg": (t["hfg"], wm), "tran": (t["tran"], kg), "evspsblsoi": (t["evspsblsoi"], kg),
        "ts": (t["ts"], "K"), "lai": (t["lai"], "m2 m-2"), "cLeaf": (t["cLeaf"], cp),
        "cStem": (t["cStem"], cp), "cSoil": (t["cSoil"], cp),
        "mrso": (np.nansum(mrsol, axis=1) + 0 * t["gpp"], "kg m-2"),
    }
    out = []
    g = ("time", "lat", "lon")
    dims = {"time": NT, "lat": LAT.size, "lon": LON.size}
    for name, (arr, unit) in fields.items():
        out.append(_write(out_dir / f"{name}_monthly.nc", dims, coords,
                          {name: (g, arr, {"units": unit})}))
    out.append(_write(out_dir / "mrsol_monthly.nc", {**dims, "layer": len(layers)}, coords,
                      {"mrsol": (("time", "layer", "lat", "lon"), mrsol, {"units": "kg m-2"})}))
    t["_classic_mrsol"] = mrsol
    return out
