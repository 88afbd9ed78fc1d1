"""The ESMValCore configuration of one evaluation: offline, our rootpaths, our provenance tags.

Contract: :func:`write_config` writes into ``workspace``

* ``config/callmip.yml`` - an ESMValCore configuration directory (``--config_dir``) with
  ``output_dir``, ``rootpath``/``drs`` for the CMIP6 and OBS6 trees of the layout,
  ``search_esgf: never`` (nothing is downloaded), one task at a time, kept preprocessor files;
* ``config-references.yml`` and ``references/*.bibtex`` - the tags ESMValCore resolves in
  provenance (ESMValCore looks for them in the working directory when ESMValTool proper is not
  installed, so the runner starts ``esmvaltool`` there).

The user's own ``~/.config/esmvaltool`` is never read: ``--config_dir`` replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from callmip import atomic
from esmvaltool_bridge.layout import Layout
from esmvaltool_bridge.recipe import AUTHOR

TAGS: dict[str, Any] = {
    "authors": {
        AUTHOR: {
            "name": "callmip-global",
            "institute": "CalLMIP (Calibrated Land Model Intercomparison Project)",
            "orcid": "",
        }
    },
    "projects": {"callmip": "CalLMIP, Calibrated Land Model Intercomparison Project"},
    "realms": {"land": "Land"},
    "themes": {"phys": "Physics", "carbon": "Carbon cycle"},
    "domains": {"global": "Global", "reg": "Regional"},
    "plot_types": {"geo": "Geographical distribution", "times": "Time series"},
    "statistics": {"bias": "Bias", "rmsd": "Root mean square difference", "mean": "Mean"},
}

BIBTEX = {
    "jung19": """@article{jung19,
  author = {Jung, M. and Koirala, S. and Weber, U. and others},
  title = {The {FLUXCOM} ensemble of global land-atmosphere energy fluxes},
  journal = {Scientific Data}, volume = {6}, pages = {74}, year = {2019},
  doi = {10.1038/s41597-019-0076-8}
}
""",
    "miralles25": """@article{miralles25,
  author = {Miralles, D. G. and others},
  title = {{GLEAM4}: global land evaporation and soil moisture dataset at 0.1 degree
           resolution from 1980 to near present},
  journal = {Scientific Data}, year = {2025}
}
""",
}



def config_settings(layout: Layout, output_dir: Path, workspace: Path) -> dict[str, Any]:
    """The ESMValCore settings (see the module docstring)."""
    return {
        "output_dir": str(output_dir),
        "auxiliary_data_dir": str(workspace / "auxiliary_data"),
        "download_dir": str(workspace / "downloads"),
        "search_esgf": "never",
        "rootpath": layout.rootpath,
        "drs": {"CMIP6": "default", "OBS6": "default"},
        "max_parallel_tasks": 1,
        "log_level": "info",
        "output_file_type": "png",
        "remove_preproc_dir": False,
        "compress_netcdf": False,
        "save_intermediary_cubes": False,
        "exit_on_warning": False,
    }


def write_config(layout: Layout, workspace: Path, output_dir: Path) -> Path:
    """Write the configuration directory and provenance tags; return the config directory."""
    workspace = Path(workspace)
    config_dir = workspace / "config"
    atomic.write_text(config_dir / "callmip.yml",
                "# ESMValCore configuration written by callmip-global\n"
                + yaml.safe_dump(config_settings(layout, output_dir, workspace), sort_keys=False))
    atomic.write_text(workspace / "config-references.yml", yaml.safe_dump(TAGS, sort_keys=False))
    for key, text in BIBTEX.items():
        atomic.write_text(workspace / "references" / f"{key}.bibtex", text)
    return config_dir
