"""Shared machinery of the template drivers for external models (ORCHIDEE, CTSM, CLASSIC).

These models cannot run inside this repository (CABLE-POP, which can, has its own driver
package); their drivers render the model's own input
files from templates (:mod:`callmip.drivers.render`), return an MPI launch command, and map
the documented native output to CalLMIP. What differs between models lives in each driver
module; here is only what they share: MPI launch line, parameter loading, the CO2 series file,
monthly time normalisation and annual means built from monthly output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import xarray as xr

from callmip import atomic
from callmip.drivers.base import Capabilities, ModelDriver, ModelRun
from callmip.drivers.native_time import monthly_axis
from callmip.drivers.render import (
    ParamValue,
    RenderError,
    load_params,
    read_prior,
    safe_path,
    safe_token,
)


@dataclass
class TemplateDriver(ModelDriver):
    """A driver whose inputs are rendered from ``templates/<template_dir>/``."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        ran_real_program=False,
        note="template only: its input rendering and output mapping are tested against the "
             "model's documented formats; it has never run the model itself",
    )

    template_dir: str = ""
    executable: str = ""
    mpirun: str = "mpirun"
    mpi_tasks: int = 1
    #: how the model stamps monthly records when its files carry no time bounds
    time_stamp: str = "end"
    files_per_year: int | None = None
    annual_from_monthly: bool = True

    # ------------------------------------------------------------------ inputs
    def prior(self) -> dict[str, ParamValue]:
        return read_prior(self.template_dir)

    def parameters(self, run: ModelRun) -> dict[str, ParamValue]:
        """The run's parameter values: prior overridden by ``run.params_file`` (and by the
        run's posterior ensemble member, if it is one), validated."""
        return load_params(run.params_file, self.prior(), run.ensemble_member)

    @staticmethod
    def stage_label(run: ModelRun) -> str:
        """Which parameter set a rendered file holds (a comment in the file)."""
        if run.ensemble_member is None:
            return "central values"
        return f"ensemble member {int(run.ensemble_member)}"

    def launch(self, *args: str) -> list[str]:
        """``mpirun -np N <executable> args...`` with checked words."""
        if not 1 <= int(self.mpi_tasks) <= 100000:
            raise RenderError(f"mpi_tasks={self.mpi_tasks!r} out of range")
        exe = self.executable
        exe = safe_path(exe, "executable") if exe.startswith("/") else safe_token(exe, "executable")
        mpirun = self.mpirun
        mpirun = (safe_path(mpirun, "mpirun") if mpirun.startswith("/")
                  else safe_token(mpirun, "mpirun"))
        return [mpirun, "-np", str(int(self.mpi_tasks)), exe, *args]

    def work_path(self, run: ModelRun, *parts: str) -> str:
        """A path the run writes: must stay inside the run's work directory."""
        return safe_path(run.work_dir.resolve().joinpath(*parts), "output path", run.work_dir)

    @staticmethod
    def input_path(path: Path | str, what: str) -> str:
        """A path the run reads (forcing, restart in): absolute and safe, may be elsewhere."""
        return safe_path(Path(path).resolve(), what)

    def forcing_input(self, run: ModelRun, name: str, what: str) -> str:
        """An input file named in the driver (ancillary, init file): relative names are in the
        run's forcing directory."""
        p = Path(name)
        return self.input_path(p if p.is_absolute() else run.forcing_dir / p, what)

    def write_co2(self, run: ModelRun) -> str:
        """Annual CO2 of the run's years as 'year ppm' lines (the models read it per year)."""
        text = "".join(f"{y.year:d} {float(y.co2_ppm):.3f}\n" for y in run.years)
        return str(atomic.write_text(run.work_dir / "co2_annual.txt", text))

    def render_inputs(self, run: ModelRun) -> dict[str, str]:
        """Text of every input file, by file name (what :meth:`prepare` writes)."""
        raise NotImplementedError

    def prepare(self, run: ModelRun) -> list[str]:
        """Write the rendered inputs and the CO2 file into the work directory, with ``out/`` and
        ``restart/`` for the model to write to; the launch command (the models whose inputs
        differ from this override it)."""
        texts = self.render_inputs(run)
        for sub in ("out", "restart"):
            (run.work_dir / sub).mkdir(parents=True, exist_ok=True)
        self.write_co2(run)
        for name, text in texts.items():
            atomic.write_text(run.work_dir / name, text)
        return self.launch()

    def restart_out(self, run: ModelRun) -> Path:
        return run.work_dir / "restart"

    def write_prior(self, path: Path) -> Path:
        path = Path(path)
        return atomic.write_text(path, json.dumps(self.prior(), indent=1) + "\n")

    # ------------------------------------------------------------------ outputs
    def preprocess(self, native: xr.Dataset) -> xr.Dataset:
        """Monthly records on the 15th of their month (noleap) with bounds."""
        return monthly_axis(native, self.time_stamp, source=f"{self.name} output")
