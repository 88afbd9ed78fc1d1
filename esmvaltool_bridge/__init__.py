"""ESMValTool recipes for callmip-global campaigns (optional extra ``esmvaltool``).

Layer contract: given a finished campaign run directory, write the data layout ESMValCore
reads (CMIP6-like model files, OBS6 reference products), an offline ESMValCore configuration
and a recipe whose preprocessors (regrid to the reference grid with a scheme that needs no
ESMF, common mask, climate and area statistics) feed our diagnostic script
(``diag/callmip_bias.py``: bias/RMSE tables as the ILAMB-style benchmark defines them, bias
maps, provenance); then run it with ESMValCore. Entry points::

    from esmvaltool_bridge.runner import prepare, run_esmvaltool
    result = run_esmvaltool(Path("runs/demo"))      # EsmvaltoolResult
    result.table                                    # .../work/.../callmip_bias_rmse.csv

Everything up to the recipe works without the extra; running needs ESMValCore.
"""
