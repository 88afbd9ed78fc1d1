"""Constants the CalLMIP Phase 1 protocol (v2, section 8) prescribes, in one place for the
forcing stage, the experiment matrix and the model drivers."""

#: CO2 of the 1850 spin-up, ppm (the TRENDYv2025 file says 287.43 for 1850; see forcing.co2)
PREINDUSTRIAL_CO2_PPM = 287.42
#: N deposition of the 1850 spin-up, kg N ha-1 yr-1
PREINDUSTRIAL_NDEP_KG_N_HA_YR = 0.79
