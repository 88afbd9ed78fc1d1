"""Typed options of the ``cable_pop`` driver in a campaign (``models[].options``).

Validated when the campaign is loaded, before anything starts: the program or the source to
build it from, the parameter tables (read like CABLE reads them), the group's gridinfo, the
domain box, the time step and extra ``&cablenml`` entries. Kept apart from the driver so the
campaign schema does not import the driver's numerical dependencies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator, model_validator

from callmip.drivers.base_options import DriverOptions
from callmip.drivers.cable_pop import namelists
from callmip.drivers.cable_pop.build import CableBuildError, check_source, default_source
from callmip.drivers.cable_pop.params import ParameterTableError, read_table_values

#: the branch's parameter tables inside a CABLE source tree
PARAMS_SUBDIR = Path("params") / "v12"


class CablePopOptions(DriverOptions):
    """Options of the ``cable_pop`` driver in a campaign's ``models[].options``."""

    #: option fields holding paths (relative ones are taken from the campaign file's directory)
    path_fields: ClassVar[tuple[str, ...]] = ("executable", "source_dir", "params_dir",
                                              "gridinfo")

    executable: Path | None = Field(
        None, description="a serial CABLE program already built; default: build it from "
        "source_dir (cached by source hash)")
    source_dir: Path | None = Field(
        None, description="CABLE source tree (CABLE-POP_TRENDY branch); default $CABLE_SRC or "
        "../shared/models/cable-pop-trendy")
    params_dir: Path | None = Field(
        None, description="directory with def_veg_params.txt, def_soil_params.txt and "
        "pftlookup.csv (the prior); default <source_dir>/params/v12")
    chunks: int = Field(1, ge=1, le=4096, description="land chunks (serial jobs) per run")
    domain: tuple[float, float, float, float] | None = Field(
        None, description="[west, east, south, north] degrees: run the campaign grid's land "
        "cells whose centres lie in this box (default: all land)")
    gridinfo: Path | None = Field(
        None, description="the group's own gridinfo file; default: generated from the land "
        "mask and documented defaults")
    dt_hours: float = Field(3.0, gt=0, le=24, description="CABLE time step, hours (DThrs)")
    cable_nml: dict[str, bool | int | float | str] = Field(
        default_factory=dict, description="further &cablenml entries, e.g. "
        "{'cable_user%FWSOIL_SWITCH': 'standard'} (CABLE decides whether it knows them)")
    wood_above_fraction: float = Field(
        0.7, gt=0, le=1, description="above-ground share of CASA's wood pool (cLiveBioAbove)")

    @field_validator("dt_hours")
    @classmethod
    def _divides_day(cls, value: float) -> float:
        steps = 24.0 / value
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"dt_hours={value} must divide 24 hours into whole steps")
        return value

    @field_validator("cable_nml")
    @classmethod
    def _keys(cls, value: dict) -> dict:
        for key in value:
            if not namelists.KEY.fullmatch(key):
                raise ValueError(f"cable_nml key {key!r} is not a namelist entry name")
        for key, v in value.items():
            if isinstance(v, str):
                namelists.fortran_value(v)  # refuses quotes and control characters
            elif isinstance(v, float) and not np.isfinite(v):
                raise ValueError(f"cable_nml {key!r} = {v} is not finite")
        return value

    @model_validator(mode="after")
    def _box(self) -> CablePopOptions:
        if self.domain is not None:
            w, e, s, n = self.domain
            if not (-180 <= w < e <= 360 and -90 <= s < n <= 90):
                raise ValueError(f"domain [west, east, south, north] = {list(self.domain)} is "
                                 "not a box (west < east, south < north, degrees)")
        return self

    def problems(self) -> list[str]:
        """What is wrong with the files these options name (checked when a campaign is
        loaded, before anything starts): program or source tree, parameter tables, gridinfo."""
        problems = []
        if self.executable is not None:
            if not self.executable.is_file() or not os.access(self.executable, os.X_OK):
                problems.append(f"executable {self.executable} is not an executable file")
        else:
            try:
                check_source(self.source_dir or default_source())
            except CableBuildError as exc:
                problems.append(f"source_dir: {exc}")
        tables = self.params_dir or ((self.source_dir or default_source()) / PARAMS_SUBDIR)
        try:
            read_table_values(tables)
        except (ParameterTableError, OSError) as exc:
            problems.append(f"params_dir: {exc}")
        if self.gridinfo is not None and not self.gridinfo.is_file():
            problems.append(f"gridinfo file {self.gridinfo} does not exist")
        return problems
