"""CELM, the CalLMIP Embedded Land Model.

A compact global land model run as its own process (``python -m celm run namelist.yaml``): daily
P-model GPP, GSI phenology, DALEC-style carbon pools, a two-layer bucket with snow, and a closed
surface energy balance, vectorised over land cells with numba. See README.md and OUTPUTS.md.
"""

__version__ = "0.1.0"
