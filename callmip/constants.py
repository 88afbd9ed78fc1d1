"""Physical, calendar and protocol constants of callmip-global, in one place.

Each says which convention it follows and why. Two programs keep their own copies on purpose,
because they run without this package: the embedded model (``celm/constants.py``, a standalone
program) and the ESMValTool diagnostic (``esmvaltool_bridge/diag/callmip_bias.py``, run by
ESMValCore as a plain script); tests check their copies equal the values here.
"""

# --- the Earth ------------------------------------------------------------------------------

#: Radius (m) of the sphere every cell area of the pipeline uses: regridding, the benchmark's
#: area weights, global totals, the CABLE grid file. ILAMB 2.7 (``ilamblib.CellAreas``,
#: ``earth_rad = 6.371e6``) and ilamb3 use it, and CDO's default planet radius is the same, so
#: the benchmark's weighted means match theirs to rounding (the ILAMB parity tests rely on it).
EARTH_RADIUS_M = 6_371_000.0

#: Authalic radius (m): the sphere with the surface area of the WGS84 ellipsoid. Used only for
#: the cell areas the forcing library writes (the ``carea`` of LUH2-layout states files), which
#: have always used it; the forcing's conservative aggregation divides areas by areas, so the
#: radius cancels there. Kept distinct so those files stay byte-identical.
EARTH_RADIUS_AUTHALIC_M = 6_371_007.181

# --- time -------------------------------------------------------------------------------------

#: Seconds per day (SI day; the CalLMIP fluxes are per second, the models' native ones per day).
SECONDS_PER_DAY = 86_400.0

#: Days per year of the 365-day (noleap) calendar every forcing year, model year and CalLMIP
#: file of the pipeline uses: CRU-JRA and ISIMIP3b have no 29 February, and TRENDY/CalLMIP
#: yearly conversions (per year -> per second) assume 365 days.
DAYS_PER_YEAR = 365

#: Seconds per 365-day year, for per-year <-> per-second conversions.
SECONDS_PER_YEAR = DAYS_PER_YEAR * SECONDS_PER_DAY

# --- the CalLMIP / TRENDY protocol --------------------------------------------------------------

#: First year of the SSP scenario runs (ISIMIP3b and the RCMIP SSP concentrations start here);
#: each branches from the S3 run's state at the end of the year before.
SCENARIO_FIRST_YEAR = 2015
#: Last year of the ISIMIP3b scenario forcing.
SCENARIO_LAST_YEAR = 2100

#: CO2 of the 1850 spin-up, ppm, as the CalLMIP Phase 1 protocol (v2, section 8) prescribes
#: (the TRENDYv2025 file says 287.43 for 1850; see forcing.co2).
PREINDUSTRIAL_CO2_PPM = 287.42
#: N deposition of the 1850 spin-up, kg N ha-1 yr-1 (CalLMIP protocol v2, section 8).
PREINDUSTRIAL_NDEP_KG_N_HA_YR = 0.79
