"""Every registered driver's typed options, by driver name: what a campaign's
``models[].options`` may hold (the campaign schema and the UI form are built from this).

The external-model template drivers take the launch settings a group adapts (program, MPI
launcher and tasks, and the model's own case or domain settings); the embedded model takes
none; CABLE-POP's are in :mod:`callmip.drivers.cable_pop.options`.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from callmip.drivers.base_options import DriverOptions
from callmip.drivers.cable_pop.options import CablePopOptions

_WORD = r"^[A-Za-z0-9_.+/-]{1,256}$"


class CelmOptions(DriverOptions):
    """The embedded model runs as ``python -m celm``: nothing to configure."""


class MpiOptions(DriverOptions):
    """How an external model is launched: ``mpirun -np <mpi_tasks> <executable>``."""

    executable: str | None = Field(None, pattern=_WORD, description="the model's program")
    mpirun: str | None = Field(None, pattern=_WORD, description="MPI launcher, e.g. srun")
    mpi_tasks: int | None = Field(None, ge=1, le=100000, description="MPI tasks per run")


class OrchideeOptions(MpiOptions):
    """ORCHIDEE (offline driver ``orchidee_ol``)."""


class ClmOptions(MpiOptions):
    """CLM5 / CTSM: the group's built case."""

    path_fields: ClassVar[tuple[str, ...]] = ("case_dir", "exeroot", "base_paramfile")

    case_dir: str | None = Field(None, pattern=_WORD, description="CTSM case directory")
    exeroot: str | None = Field(None, pattern=_WORD, description="the case's EXEROOT")
    base_paramfile: str | None = Field(None, pattern=_WORD,
                                       description="the case's ctsm*_params*.nc (the prior)")
    calibrated: tuple[str, ...] | None = Field(
        None, description="parameter-file variables a campaign may calibrate")

    @field_validator("calibrated")
    @classmethod
    def _names(cls, value):
        for name in value or ():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", name):
                raise ValueError(f"calibrated name {name!r} is not a parameter name")
        return value


class ClassicOptions(MpiOptions):
    """CLASSIC (``CLASSIC_parallel``)."""

    domain: str | None = Field(None, pattern=r"^[-0-9.]+/[-0-9.]+/[-0-9.]+/[-0-9.]+$",
                               description="W/E/S/N degrees given to CLASSIC_parallel")
    init_file: str | None = Field(None, pattern=_WORD,
                                  description="initialisation file for runs without a restart")


#: driver name -> its options (the registry in callmip.drivers.registry holds the classes)
DRIVER_OPTIONS: dict[str, type[DriverOptions]] = {
    "celm": CelmOptions,
    "cable_pop": CablePopOptions,
    "orchidee": OrchideeOptions,
    "clm": ClmOptions,
    "classic": ClassicOptions,
}
