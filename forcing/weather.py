"""Synthetic weather: the physics behind the CRU-JRA and ISIMIP3b generators.

Contract: :class:`WeatherModel` produces, for a set of grid cells and one year, 6-hourly
fields of the CRU-JRA variables (in CRU-JRA units) in blocks of days, deterministically from
``(seed, year)``; the same blocks give ISIMIP3b daily fields. Numbers are float32; all
operations are vectorised over (day, step, cell). No file I/O here.

Why these choices:

* Seasonal and diurnal cycles are driven by real solar geometry: 6-hourly top-of-atmosphere
  insolation is the exact integral of S0 * max(0, cos zenith) over each step (declination from
  Cooper 1969, eccentricity 0.033); temperature is a sinusoid peaking at 15 local solar time,
  whose step mean, max and min are computed analytically, so tmin <= tmp <= tmax always.
* Climatology by latitude and a smooth synthetic orography (main mountain ranges as
  Gaussians): annual mean temperature 27 C at the equator falling with sin^2(lat) and a lapse
  rate of 6.5 K/km, seasonal amplitude growing poleward with the seasons flipped in the south,
  ITCZ rain band migrating with the seasons, dry subtropics, mid-latitude storm tracks, trade
  winds and westerlies, surface pressure from height.
* Weather noise: AR(1) day-to-day anomalies, 80% of the variance on a coarse 7.5-degree grid
  (synoptic-scale coherence) and 20% local; a latent "wetness" drives rain occurrence, cloud
  and humidity together, so wet days are cloudy, humid and cool.
* Consistency the readers check: specific humidity is relative humidity (<= 0.97) times
  saturation at the day's minimum temperature (Bolton 1980), so it never exceeds saturation at
  any step; precipitation and radiation are non-negative by construction.
* Determinism: every random stream (coarse and local part of each anomaly, rain occurrence,
  rain amount, gusts) has its own generator spawned from ``SeedSequence([seed, year])`` and is
  drawn in time order, so results do not depend on block size, on which other years are
  generated, or on parallelism.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from forcing.conventions import SECONDS_PER_STEP, STEPS_PER_DAY

SOLAR_CONSTANT = 1361.0  # W m-2
STEFAN_BOLTZMANN = 5.670374419e-8
TREND_REFERENCE_YEAR = 1901
COARSE_RES_DEG = 7.5
_AR_PHI = {"temp": 0.8, "wet": 0.55, "hum": 0.7, "pres": 0.75, "u": 0.7, "v": 0.6}
_STREAMS = (
    *(
        f"{name}_{part}"
        for name in ("temp", "wet", "hum", "pres", "u", "v")
        for part in ("coarse", "local")
    ),
    "rain_occ",
    "rain_amt",
    "gust_u",
    "gust_v",
)

# (lat, lon, height m, lat radius deg, lon radius deg): a rough sketch of the main ranges
_MOUNTAINS = (
    (32.0, 88.0, 4500.0, 6.0, 12.0),  # Tibetan Plateau
    (-20.0, -68.0, 3500.0, 18.0, 2.5),  # Andes (long, narrow)
    (45.0, -112.0, 1800.0, 12.0, 6.0),  # Rocky Mountains
    (46.0, 10.0, 1200.0, 2.0, 4.0),  # Alps
    (3.0, 37.0, 1500.0, 8.0, 5.0),  # East African highlands
    (72.0, -40.0, 2200.0, 8.0, 14.0),  # Greenland ice sheet
    (-25.0, 25.0, 1100.0, 8.0, 8.0),  # Southern African plateau
    (48.0, 100.0, 1500.0, 5.0, 12.0),  # Mongolian plateau
)


def synthetic_elevation(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Smooth synthetic surface height (m) of cells: 250 m base plus the main ranges."""
    z = np.full(lat.shape, 250.0)
    for la, lo, h, rla, rlo in _MOUNTAINS:
        dlon = (lon - lo + 180.0) % 360.0 - 180.0
        z += h * np.exp(-(((lat - la) / rla) ** 2) - (dlon / rlo) ** 2)
    return z


def saturation_specific_humidity(t_k: np.ndarray, p_pa: np.ndarray) -> np.ndarray:
    """Saturation specific humidity (kg/kg) over water, Bolton (1980) vapour pressure."""
    t_c = t_k - 273.15
    e_s = 611.2 * np.exp(17.67 * t_c / (t_c + 243.5))
    e_s = np.minimum(e_s, 0.5 * p_pa)  # keeps the formula finite at absurd temperatures
    return 0.622 * e_s / (p_pa - 0.378 * e_s)


@dataclass(frozen=True)
class Cells:
    """The grid cells to generate weather for (flattened)."""

    lat: np.ndarray
    lon: np.ndarray
    elevation: np.ndarray
    coarse_index: np.ndarray
    n_coarse: int

    @classmethod
    def from_points(cls, lat: np.ndarray, lon: np.ndarray) -> Cells:
        lat = np.asarray(lat, dtype=np.float64).ravel()
        lon = np.asarray(lon, dtype=np.float64).ravel()
        nlat_c = round(180.0 / COARSE_RES_DEG)
        nlon_c = 2 * nlat_c
        i = np.clip(((lat + 90.0) // COARSE_RES_DEG).astype(int), 0, nlat_c - 1)
        j = np.clip((((lon + 180.0) % 360.0) // COARSE_RES_DEG).astype(int), 0, nlon_c - 1)
        return cls(lat, lon, synthetic_elevation(lat, lon), i * nlon_c + j, nlat_c * nlon_c)

    @property
    def size(self) -> int:
        return self.lat.size


@dataclass(frozen=True)
class WeatherBlock:
    """A block of consecutive days; 6-hourly arrays have shape (days, 4, cells)."""

    first_day: int
    tmp: np.ndarray
    tmax: np.ndarray
    tmin: np.ndarray
    pre: np.ndarray
    spfh: np.ndarray
    dswrf: np.ndarray
    dlwrf: np.ndarray
    pres: np.ndarray
    ugrd: np.ndarray
    vgrd: np.ndarray

    @property
    def ndays(self) -> int:
        return self.tmp.shape[0]

    def six_hourly(self, name: str) -> np.ndarray:
        """(days*4, cells) array of a CRU-JRA variable in CRU-JRA units."""
        arr = getattr(self, name)
        return arr.reshape(arr.shape[0] * STEPS_PER_DAY, arr.shape[2])

    def daily_isimip(self) -> dict[str, np.ndarray]:
        """Daily (days, cells) fields in ISIMIP3b names and units."""
        speed = np.sqrt(self.ugrd**2 + self.vgrd**2).mean(axis=1)
        return {
            "tas": self.tmp.mean(axis=1),
            "tasmax": self.tmax.max(axis=1),
            "tasmin": self.tmin.min(axis=1),
            "pr": self.pre.mean(axis=1) / np.float32(SECONDS_PER_STEP),
            "rsds": self.dswrf.mean(axis=1) / np.float32(SECONDS_PER_STEP),
            "rlds": self.dlwrf.mean(axis=1),
            "ps": self.pres.mean(axis=1),
            "huss": self.spfh.mean(axis=1),
            "sfcwind": speed,
        }


class WeatherModel:
    """Synthetic weather for one year over a set of cells.

    ``warming_k`` is a temperature offset (K, per cell or scalar) added to the whole year, e.g.
    a historical trend or SSP warming; ``precip_per_k`` scales precipitation by that much per
    kelvin of warming (Clausius-Clapeyron-like intensification, 2%/K by default).
    """

    def __init__(
        self,
        cells: Cells,
        year: int,
        seed: int,
        ndays: int = 365,
        warming_k: float | np.ndarray = 0.0,
        precip_per_k: float = 0.02,
    ) -> None:
        self.cells = cells
        self.year = year
        self.ndays = ndays
        self.warming = np.broadcast_to(np.asarray(warming_k, dtype=np.float64), (cells.size,))
        self.precip_per_k = precip_per_k
        children = np.random.SeedSequence([seed, year]).spawn(len(_STREAMS))
        self._rng = {
            name: np.random.default_rng(s) for name, s in zip(_STREAMS, children, strict=True)
        }
        self._state: dict[str, np.ndarray] | None = None
        lat = cells.lat
        slat = np.sin(np.deg2rad(np.abs(lat)))
        self._t_mean = 273.15 + 27.0 - 40.0 * slat**2 - 0.0065 * cells.elevation
        self._t_amp = (1.0 + 19.0 * slat**1.3) * np.where(lat >= 0.0, 1.0, -0.6)
        self._t_sd = 1.5 + 3.5 * slat
        self._p_surf = 101325.0 * np.exp(-cells.elevation / 8400.0)
        self._rh_base = 0.78 - 0.33 * np.exp(-(((np.abs(lat) - 25.0) / 10.0) ** 2))
        self._u_clim = 0.5 * (
            8.0 * np.exp(-(((np.abs(lat) - 45.0) / 12.0) ** 2)) - 5.0 * np.exp(-((lat / 15.0) ** 2))
        )
        self._diurnal = _diurnal_factors(cells.lon)

    # ------------------------------------------------------------------ noise
    def _ar1(self, name: str, nd: int) -> np.ndarray:
        """(nd, cells) AR(1) anomalies with unit stationary variance, drawn day by day."""
        phi = _AR_PHI[name]
        innov = np.sqrt(1.0 - phi**2)
        coarse = self._rng[f"{name}_coarse"].standard_normal(
            (nd, self.cells.n_coarse), dtype=np.float32
        )
        local = self._rng[f"{name}_local"].standard_normal((nd, self.cells.size), dtype=np.float32)
        shocks = 0.894 * coarse[:, self.cells.coarse_index] + 0.447 * local
        assert self._state is not None
        out = np.empty_like(shocks)
        x = self._state[name]
        for d in range(nd):
            x = phi * x + innov * shocks[d]
            out[d] = x
        self._state[name] = x
        return out

    def _init_state(self) -> None:
        """Start each year from the AR(1) stationary distribution (years are independent)."""
        self._state = {}
        for name in _AR_PHI:
            coarse = self._rng[f"{name}_coarse"].standard_normal(
                self.cells.n_coarse, dtype=np.float32
            )
            local = self._rng[f"{name}_local"].standard_normal(self.cells.size, dtype=np.float32)
            self._state[name] = 0.894 * coarse[self.cells.coarse_index] + 0.447 * local

    # ------------------------------------------------------------------ blocks
    def blocks(self, block_days: int = 32) -> Iterator[WeatherBlock]:
        """Yield the year in blocks of ``block_days`` days (last block may be shorter)."""
        self._init_state()
        for d0 in range(0, self.ndays, block_days):
            yield self._block(d0, min(block_days, self.ndays - d0))

    def _block(self, d0: int, nd: int) -> WeatherBlock:
        cells = self.cells
        doy = np.arange(d0, d0 + nd, dtype=np.float64)  # 0-based day of year
        frac_year = (doy + 0.5) / self.ndays
        lat = cells.lat

        # --- temperature: climatology + seasonal cycle (lagged ~25 days) + trend + weather
        season = -np.cos(2.0 * np.pi * (frac_year - 15.0 / 365.0))
        t_anom = self._ar1("temp", nd) * self._t_sd
        wet_latent = self._ar1("wet", nd)
        td = (
            self._t_mean[None, :]
            + self._t_amp[None, :] * season[:, None]
            + self.warming[None, :]
            + t_anom
            - 1.2 * np.maximum(wet_latent, 0.0)  # rainy days are cooler
        )

        # --- rain: ITCZ band following the sun, storm tracks, dry subtropics
        itcz = 6.0 + 8.0 * np.sin(2.0 * np.pi * (frac_year - 105.0 / 365.0))
        p_clim = (
            0.35
            + 7.0 * np.exp(-(((lat[None, :] - itcz[:, None]) / 9.0) ** 2))
            + 2.2 * np.exp(-(((np.abs(lat[None, :]) - 50.0) / 13.0) ** 2))
        ) * (1.0 + self.precip_per_k * self.warming[None, :])  # mm/day
        p_wet = np.clip(0.12 + 0.55 * p_clim / (p_clim + 3.0), 0.08, 0.75)
        thresh = _normal_quantile(1.0 - p_wet)
        wet_day = wet_latent > thresh
        occ = self._rng["rain_occ"].random((nd, STEPS_PER_DAY, cells.size), dtype=np.float32)
        amt = self._rng["rain_amt"].standard_exponential(
            (nd, STEPS_PER_DAY, cells.size), dtype=np.float32
        )
        step_mean = p_clim / (p_wet * STEPS_PER_DAY * 0.6)  # mm per wet 6-h step
        pre = np.where(wet_day[:, None, :] & (occ < 0.6), amt * step_mean[:, None, :], 0.0)

        # --- cloud and humidity follow the latent wetness
        cloud = 1.0 / (1.0 + np.exp(-1.6 * (wet_latent - thresh + 0.6)))
        rh = np.clip(
            self._rh_base[None, :] + 0.12 * self._ar1("hum", nd) + 0.15 * cloud - 0.05, 0.15, 0.97
        )
        dtr = np.clip(11.0 - 7.0 * cloud + 4.0 * (1.0 - rh), 2.0, 22.0)
        amp = 0.5 * dtr
        pres_d = self._p_surf[None, :] + 700.0 * self._ar1("pres", nd)
        t_min_day = td - amp
        q = rh * saturation_specific_humidity(t_min_day, pres_d)

        # --- 6-hourly temperatures from the analytic diurnal sinusoid
        mean_f, max_f, min_f = self._diurnal
        tmp = td[:, None, :] + amp[:, None, :] * mean_f[None, :, :]
        tmax = td[:, None, :] + amp[:, None, :] * max_f[None, :, :]
        tmin = td[:, None, :] + amp[:, None, :] * min_f[None, :, :]

        # --- radiation
        toa = _toa_step_energy(lat, cells.lon, doy, self.ndays)  # J m-2 per step
        transmissivity = 0.76 - 0.52 * cloud - 0.00002 * (250.0 - cells.elevation)[None, :]
        dswrf = toa * np.clip(transmissivity, 0.1, 0.8)[:, None, :]
        e_hpa = q * pres_d / (0.622 + 0.378 * q) / 100.0
        emis = np.clip(0.58 + 0.055 * np.sqrt(e_hpa), 0.5, 0.98)
        emis = emis + (1.0 - emis) * 0.85 * cloud
        dlwrf = emis[:, None, :] * STEFAN_BOLTZMANN * tmp**4

        # --- wind
        u_d = self._u_clim[None, :] + 2.2 * self._ar1("u", nd)
        v_d = 1.8 * self._ar1("v", nd)
        steps = (nd, STEPS_PER_DAY, cells.size)
        ugrd = u_d[:, None, :] + 0.8 * self._rng["gust_u"].standard_normal(steps, dtype=np.float32)
        vgrd = v_d[:, None, :] + 0.8 * self._rng["gust_v"].standard_normal(steps, dtype=np.float32)

        f32 = np.float32
        return WeatherBlock(
            first_day=d0,
            tmp=tmp.astype(f32),
            tmax=tmax.astype(f32),
            tmin=tmin.astype(f32),
            pre=pre.astype(f32),
            spfh=np.broadcast_to(q[:, None, :], steps).astype(f32),
            dswrf=dswrf.astype(f32),
            dlwrf=dlwrf.astype(f32),
            pres=np.broadcast_to(pres_d[:, None, :], steps).astype(f32),
            ugrd=ugrd.astype(f32),
            vgrd=vgrd.astype(f32),
        )


def _normal_quantile(p: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri

    return ndtri(p)


def _diurnal_factors(lon: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, max and min of cos(2 pi (h - 15)/24) over each 6-h UTC step, shape (4, cells).

    Local solar hour h = UTC + lon/15. Over a quarter period [a, a + pi/2] of the cosine the
    mean is (sin b - sin a)/(pi/2); the max is 1 if the interval contains a multiple of 2 pi,
    else the larger end value, and likewise the min with pi.
    """
    utc0 = np.arange(STEPS_PER_DAY, dtype=np.float64)[:, None] * 6.0
    a = 2.0 * np.pi * (utc0 + lon[None, :] / 15.0 - 15.0) / 24.0
    b = a + np.pi / 2.0
    mean = (np.sin(b) - np.sin(a)) / (np.pi / 2.0)
    ends_max = np.maximum(np.cos(a), np.cos(b))
    ends_min = np.minimum(np.cos(a), np.cos(b))
    contains_peak = np.floor(b / (2.0 * np.pi)) > np.floor(a / (2.0 * np.pi))
    contains_trough = np.floor((b - np.pi) / (2.0 * np.pi)) > np.floor((a - np.pi) / (2.0 * np.pi))
    return mean, np.where(contains_peak, 1.0, ends_max), np.where(contains_trough, -1.0, ends_min)


def _toa_step_energy(lat: np.ndarray, lon: np.ndarray, doy: np.ndarray, ndays: int) -> np.ndarray:
    """Top-of-atmosphere insolation integrated over each 6-h UTC step, J m-2, (days, 4, cells).

    cos(zenith) = A + B cos(h) with A = sin(phi) sin(delta), B = cos(phi) cos(delta); its
    positive part integrates analytically over hour angle: the sun is up for |h| < H0 with
    cos(H0) = -A/B. Each step covers a quarter turn of h, intersected with the daylight window
    (and its copy one turn later).
    """
    phi = np.deg2rad(lat)[None, None, :]
    gamma = 2.0 * np.pi * (doy + 0.5) / ndays
    decl = np.deg2rad(23.44) * np.sin(2.0 * np.pi * (284.0 + doy + 1.0) / ndays)
    dist = 1.0 + 0.033 * np.cos(gamma)
    sd, cd = np.sin(decl)[:, None, None], np.cos(decl)[:, None, None]
    big_a = np.sin(phi) * sd
    big_b = np.cos(phi) * cd
    ratio = np.divide(
        -big_a,
        big_b,
        out=np.full(np.broadcast(big_a, big_b).shape, -2.0),
        where=np.abs(big_b) > 1e-12,
    )
    h0 = np.arccos(np.clip(ratio, -1.0, 1.0))  # 0 = polar night, pi = midnight sun
    utc0 = np.arange(STEPS_PER_DAY, dtype=np.float64)[None, :, None] * 6.0
    h1 = 2.0 * np.pi * (utc0 + lon[None, None, :] / 15.0 - 12.0) / 24.0
    h1 = (h1 + np.pi) % (2.0 * np.pi) - np.pi  # in [-pi, pi)
    h2 = h1 + np.pi / 2.0
    total = np.zeros(np.broadcast(h1, h0).shape)
    for shift in (0.0, 2.0 * np.pi):
        lo = np.maximum(h1, -h0 + shift)
        hi = np.minimum(h2, h0 + shift)
        ok = hi > lo
        seg = big_a * (hi - lo) + big_b * (np.sin(hi - shift) - np.sin(lo - shift))
        total += np.where(ok, seg, 0.0)
    seconds_per_radian = 86400.0 / (2.0 * np.pi)
    energy = SOLAR_CONSTANT * dist[:, None, None] * np.maximum(total, 0.0) * seconds_per_radian
    return energy
