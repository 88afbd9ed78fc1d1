"""Physical constants and fixed (not calibrated) model constants of CELM.

Contract: plain module-level floats, nothing else. Numba freezes module globals into compiled code,
so these are compile-time constants of the kernel; anything a user may calibrate lives in
:mod:`celm.params` instead. Units are SI unless the name says otherwise.
"""

from __future__ import annotations

# --- physics -------------------------------------------------------------------------------------
#: CELM is a standalone program, so it keeps its own copy of the pipeline's calendar constants
#: (callmip.constants; tests/config/test_constants.py checks they agree)
SECONDS_PER_DAY = 86400.0
DAYS_PER_YEAR = 365.0
T_FREEZE = 273.15  # K
R_GAS = 8.314462618  # J mol-1 K-1
R_DRY_AIR = 287.058  # J kg-1 K-1
CP_AIR = 1004.64  # J kg-1 K-1
STEFAN_BOLTZMANN = 5.670374419e-8  # W m-2 K-4
SURFACE_EMISSIVITY = 0.97
LATENT_FUSION = 3.337e5  # J kg-1
LATENT_SUBLIMATION = 2.834e6  # J kg-1
VON_KARMAN = 0.41
MOLAR_MASS_C = 12.0107  # g mol-1
#: photosynthetic photon flux per joule of downwelling shortwave (mol J-1; Meek et al. 1984, as in
#: rpmodel/pyrealm ``kfFEC`` = 2.04 umol J-1)
PPFD_PER_SW = 2.04e-6
#: O2 mole fraction of air (Bernacchi et al. 2001 use partial pressure = this x patm)
O2_MOLE_FRACTION = 0.209476

# --- P-model (Stocker et al. 2020, Wang et al. 2017) ---------------------------------------------
GAMMA_STAR_25 = 4.332  # Pa at 101325 Pa
GAMMA_STAR_HA = 37830.0  # J mol-1
KC_25 = 39.97  # Pa
KC_HA = 79430.0  # J mol-1
KO_25 = 27480.0  # Pa
KO_HA = 36380.0  # J mol-1
P_STANDARD = 101325.0  # Pa
#: Jmax cost coefficient c* of Wang et al. (2017)
C_STAR_JMAX = 0.41
#: Vogel equation for the viscosity of water, ln(eta / mPa s) = A + B / (T - C)
VOGEL_B = 578.919  # K
VOGEL_C = 137.546  # K
#: leaf temperature range over which the P-model is evaluated (deg C); outside it GPP is 0 anyway
PMODEL_TC_MIN = -20.0
PMODEL_TC_MAX = 50.0

# --- vegetation structure and phenology ----------------------------------------------------------
K_EXTINCTION = 0.5  # canopy light extinction coefficient (Beer's law)
#: growing-season index ramps (Jolly et al. 2005): min temperature (deg C), photoperiod (h),
#: daytime VPD (Pa)
GSI_TMIN_LO = -2.0
GSI_TMIN_HI = 5.0
GSI_PHOTO_LO = 10.0
GSI_PHOTO_HI = 11.0
GSI_VPD_LO = 900.0
GSI_VPD_HI = 4100.0
GSI_DAYS = 21.0  # running-mean length of the GSI (days)
LABILE_RELEASE_MAX = 0.05  # d-1, labile -> foliage at GSI = 1
LEAF_FALL_MAX = 0.05  # d-1, extra foliage loss at GSI <= GSI_FALL_LO
GSI_FALL_HI = 0.5  # leaf fall starts below this GSI
GSI_FALL_LO = 0.2  # and is at its maximum below this one
LEAF_RESORPTION = 0.5  # fraction of phenological leaf fall returned to the labile store
#: canopy interception: fraction of rain held per unit vegetation cover
INTERCEPTION_FRACTION = 0.1
#: roughness length of bare soil and of a closed tall forest (m); wood carbon at half (gC m-2)
Z0_SOIL = 0.01
Z0_FOREST = 1.2
WOOD_HALF_HEIGHT = 6000.0
REFERENCE_HEIGHT = 10.0  # m above the displacement height
WIND_MIN = 0.3  # m s-1
#: aboveground share of wood carbon, so cLiveBioAbove = C_LEAF + WOOD_ABOVE_FRAC * C_WOOD
WOOD_ABOVE_FRAC = 0.7

# --- albedo ---------------------------------------------------------------------------------------
ALBEDO_VEG = 0.15
ALBEDO_SOIL_DRY = 0.30
ALBEDO_SOIL_WET = 0.15
ALBEDO_SNOW = 0.75

# --- snow -----------------------------------------------------------------------------------------
T_RAIN = 2.0  # deg C, all rain above
T_SNOW = 0.0  # deg C, all snow below
DEGREE_DAY_FACTOR = 3.0  # mm d-1 K-1
SWE_COVER_HALF = 10.0  # mm, snow water equivalent of 50% snow cover
SWE_MAX = 1000.0  # mm, excess runs off (ice discharge; CLM's snow capping)

# --- soil -----------------------------------------------------------------------------------------
#: top layer (0.1 m): field capacity, wilting point and air-dry water content (mm)
W1_FC = 30.0
W1_WP = 10.0
W1_RES = 5.0
TOP_AVAILABLE = W1_FC - W1_WP
#: sub-layer wilting-point water per mm of available capacity (theta_wp / (theta_fc - theta_wp))
WP_PER_AVAILABLE = 0.5
SOIL_HEAT_COEF = 1.0  # W m-2 K-1, ground heat flux per K of air-soil temperature difference
SOIL_HEAT_CAPACITY = 5.0e6  # J m-2 K-1 (about 2 m of moist soil)
#: decomposition moisture scalar at zero available water (linear to 1 at field capacity)
DECOMP_DRY = 0.1

# --- numerics -------------------------------------------------------------------------------------
TINY = 1e-12
