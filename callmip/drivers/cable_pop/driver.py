"""Driver for CABLE-POP, TRENDY configuration (branch ``CABLE-POP_TRENDY``): the real program.

One run (or segment) of a member is split into land chunks, one serial ``cable`` job each,
as TRENDY does: this branch has no MPI build. Per chunk the driver writes, in
``<run>/cNNN/``: the branch's four namelists (:mod:`.namelists`), its land mask, links to the
campaign-level gridinfo and to the run's shared inputs (``<run>/shared/``: parameter tables
with the run's parameter set written in (:mod:`.params`), CO2 text file, N deposition, and the
met directory mapping each simulated year to its forcing year (:mod:`.inputs`)), and
``job.json`` for the launcher that runs and judges CABLE (:mod:`.launch`, :mod:`.judge`).

Restarts (CABLE, CASA's six files, POP, climate) are written to ``<run>/restart/cNNN/`` and
chained: chunk k of the next segment, cycle or run reads chunk k of the previous one through
its ``rin`` link, so the chunking (domain and number of chunks) is fixed for a campaign and
checked. When all chunks of a run completed, :meth:`CablePopDriver.finish` merges their
outputs into ``<run>/out/cable_out.nc`` on the campaign grid (:mod:`.merge`).

Spin-up: with ``spinup_mode='analytic'`` a chunk job runs TRENDY's pair of steps, a normal
cycle writing CASA's daily forcing, then CASA-only analytic spin-up (``icycle = 12``,
``spincasa``) from it (declared in :attr:`CablePopDriver.capabilities`).

Native output (ALMA names, ``offline/cable_output.F90``; monthly, stamped mid-month): fluxes
in umol m-2 s-1 (CO2, NEE positive to the atmosphere), W m-2, kg m-2 s-1; pools in kg C m-2;
``SoilMoist`` volumetric on 6 layers. ``TotSoilCarb`` is soil *and litter* carbon, so cSoil is
``TotSoilCarb - TotLittCarb`` and cLitter ``TotLittCarb``; cVeg is ``TotLivBiomass``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from callmip import atomic
from callmip.drivers.base import (
    UMOL_CO2_TO_KGC,
    WATER_DENSITY,
    Capabilities,
    Mapping,
    ModelDriver,
    ModelRun,
    NativeOutputError,
    Term,
    VariableMap,
)
from callmip.drivers.cable_pop import inputs, landuse, namelists
from callmip.drivers.cable_pop.build import build_cable, default_source
from callmip.drivers.cable_pop.judge import JOB_FILE
from callmip.drivers.cable_pop.merge import merge_chunks
from callmip.drivers.cable_pop.options import PARAMS_SUBDIR
from callmip.drivers.cable_pop.params import (
    BY_NAME,
    PARAMETERS,
    read_table_values,
    write_tables,
)
from callmip.drivers.change import ndep_by_simulated_year
from callmip.drivers.native_time import monthly_axis
from callmip.drivers.render import ParamValue, RenderError, load_params

#: CABLE's default soil layer thicknesses, m (zse)
CABLE_ZSE = (0.022, 0.058, 0.154, 0.409, 1.085, 2.872)
MERGED_OUTPUT = "cable_out.nc"
#: restart files of a normal step and of the CASA-only analytic step
CASA_RESTARTS = tuple(f"restart/cru_casa_{k}_rst.nc"
                      for k in ("biome", "met", "pool", "flux", "bal", "phen"))
CABLE_RESTARTS = ("restart/cru_cable_rst.nc", "restart/pop_cru_ini.nc",
                  "restart/cru_climate_rst.nc", *CASA_RESTARTS)
ANALYTIC_RESTARTS = ("restart/pop_cru_ini.nc", *CASA_RESTARTS)

FLUX_CO2 = ("umol/m^2/s", "umol m-2 s-1")
POOL_C = ("kg C/m^2", "kgC/m^2", "kg C m-2")
W_M2 = ("W/m^2", "W m-2")
KG_M2_S = ("kg/m^2/s", "kg m-2 s-1")


def top_layer_weights(zse: tuple[float, ...], depth: float) -> tuple[float, ...]:
    """Thickness (m) of each layer that lies within the top ``depth`` metres."""
    out, top = [], 0.0
    for dz in zse:
        out.append(float(max(0.0, min(dz, depth - top))))
        top += dz
    return tuple(round(w, 12) for w in out)


def _cable_map(wood_above_fraction: float, zse: tuple[float, ...]) -> VariableMap:
    c = UMOL_CO2_TO_KGC
    thick = tuple(WATER_DENSITY * z for z in zse)
    top = tuple(WATER_DENSITY * z for z in top_layer_weights(zse, 0.1))
    return {
        "nep": Mapping((Term("NEE", -1.0, FLUX_CO2),), c, "nep = -NEE (NEE positive upward)"),
        "gpp": Mapping((Term("GPP", 1.0, FLUX_CO2),), c),
        "reco": Mapping((Term("AutoResp", 1.0, FLUX_CO2), Term("HeteroResp", 1.0, FLUX_CO2)), c,
                        "reco = ra + rh"),
        "hfls": Mapping((Term("Qle", 1.0, W_M2),)),
        "hfss": Mapping((Term("Qh", 1.0, W_M2),)),
        "hfg": Mapping((Term("Qg", 1.0, W_M2),)),
        "tran": Mapping((Term("TVeg", 1.0, KG_M2_S),)),
        "evspsblsoi": Mapping((Term("ESoil", 1.0, KG_M2_S),)),
        "ts": Mapping((Term("RadT", 1.0, ("K",)),)),
        "lai": Mapping((Term("LAI", 1.0, ("-", "1", "m^2/m^2")),)),
        "cLiveBioAbove": Mapping(
            (Term("PlantCarbLeaf", 1.0, POOL_C),
             Term("PlantCarbWood", wood_above_fraction, POOL_C)),
            note=f"cLiveBioAbove = cLeaf + {wood_above_fraction} * cWood",
        ),
        "cSoil": Mapping((Term("TotSoilCarb", 1.0, POOL_C), Term("TotLittCarb", -1.0, POOL_C)),
                         note="cSoil = TotSoilCarb - TotLittCarb (TotSoilCarb includes litter)"),
        "mrso": Mapping((Term("SoilMoist", 1.0, ("m^3/m^3",), layers=thick),),
                        note="sum over layers of theta * dz * 1000"),
        "mrsos": Mapping((Term("SoilMoist", 1.0, ("m^3/m^3",), layers=top),),
                         note="theta * dz * 1000 over the top 0.1 m"),
        # not in the CalLMIP table: spin-up pools (total = cVeg + cLitter + cSoil)
        "cVeg": Mapping((Term("TotLivBiomass", 1.0, POOL_C),), optional=True),
        "cLitter": Mapping((Term("TotLittCarb", 1.0, POOL_C),), optional=True),
    }


@dataclass
class CablePopDriver(ModelDriver):
    """Run the real CABLE-POP program in land chunks and map its ALMA output."""

    name: str = "cable_pop"
    executable: str = ""
    source_dir: str = ""
    params_dir: str = ""
    chunks: int = 1
    domain: tuple[float, float, float, float] | None = None
    gridinfo: str = ""
    dt_hours: float = 3.0
    cable_nml: dict[str, Any] = field(default_factory=dict)
    wood_above_fraction: float = 0.7
    soil_layer_thickness: tuple[float, ...] = CABLE_ZSE
    time_stamp: str = "mid"
    files_per_year: int | None = None
    annual_from_monthly: bool = True
    variable_map: VariableMap = field(default_factory=dict)

    capabilities: ClassVar[Capabilities] = Capabilities(
        accelerated_spinup="CASA-only analytic spin-up (icycle=12, spincasa) after each cycle",
        chunked=True,
        drivers_of_change=("climate", "CO2", "LUC", "Ndep"),
        ran_real_program=True,
        note="builds and runs the CABLE-POP TRENDY branch with the campaign's land use "
             "(POPLUC: primary and secondary forest and grass tiles, luc.nml; net "
             "transitions, no wood harvest) and N deposition (its NDep file, CN cycle)",
    )

    def __post_init__(self) -> None:
        if not self.variable_map:
            self.variable_map = _cable_map(self.wood_above_fraction, self.soil_layer_thickness)
        if self.domain is not None:
            self.domain = tuple(float(x) for x in self.domain)  # type: ignore[assignment]

    # ------------------------------------------------------------------ sources and prior
    def source(self) -> Path:
        return Path(self.source_dir).resolve() if self.source_dir else default_source()

    def tables_dir(self) -> Path:
        return Path(self.params_dir) if self.params_dir else self.source() / PARAMS_SUBDIR

    def prior(self) -> dict[str, ParamValue]:
        """The calibratable PFT values of the branch's own tables (the group's defaults)."""
        return read_table_values(self.tables_dir())  # type: ignore[return-value]

    def parameters(self, run: ModelRun) -> dict[str, ParamValue]:
        """The run's values: prior, the parameter file, and its ensemble member if any."""
        return load_params(run.params_file, self.prior(), run.ensemble_member)

    def write_prior(self, path: Path) -> Path:
        doc = {"model": "cable_pop", "kind": "prior",
               "description": f"CABLE-POP prior: the PFT values of {self.tables_dir()}",
               "values": self.prior(),
               "parameters": [dataclasses.asdict(p) for p in PARAMETERS]}
        return atomic.write_text(Path(path), json.dumps(doc, indent=1) + "\n")

    # ------------------------------------------------------------------ campaign set-up
    def _workspace(self) -> Path:
        if self.workspace is None:
            raise RenderError("cable_pop driver: no workspace (the orchestrator sets one per "
                              "model and campaign)")
        return Path(self.workspace)

    def setup(self, forcing_dir: Path, log=print) -> dict[str, str]:
        """Build (or find) the program, fix the domain and its chunks, write the gridinfo."""
        ws = self._workspace()
        ws.mkdir(parents=True, exist_ok=True)
        if self.executable:
            exe, key, seconds = Path(self.executable), "given", 0.0
        else:
            build = build_cable(self.source(), log=log)
            exe, key, seconds = build.executable, build.key, build.seconds
        years = sorted(int(p.stem.split("_")[1]) for p in Path(forcing_dir).glob("met_*.nc"))
        if not years:
            raise inputs.CableInputError(f"{forcing_dir}: no model-ready forcing (met_YYYY.nc)")
        domain = inputs.read_domain(forcing_dir, years[0], self.domain)
        cells = domain.chunk_cells(self.chunks)
        grid = inputs.read_grid(forcing_dir, years[0])
        if self.gridinfo:
            gridinfo = gridinfo_luc = Path(self.gridinfo).resolve()
        else:
            gridinfo = inputs.write_gridinfo(ws / "gridinfo.nc", domain, forcing_dir, years[0])
            gridinfo_luc = inputs.write_gridinfo(ws / "gridinfo_luc.nc", domain, forcing_dir,
                                                 years[0], land_use=True)
        state = {
            "executable": str(exe), "build_key": key, "build_seconds": round(seconds, 1),
            "source": str(self.source()), "tables": str(self.tables_dir()),
            "gridinfo": str(gridinfo), "gridinfo_luc": str(gridinfo_luc),
            "domain": domain.to_json(),
            "grid": {"lat": grid[0].tolist(), "lon": grid[1].tolist()},
            "chunks": [c.tolist() for c in cells],
        }
        atomic.write_text(ws / "setup.json", json.dumps(state) + "\n")
        log(f"CABLE: {exe} ({'cached' if seconds == 0 else f'built in {seconds:.0f} s'}); "
            f"{domain.n_land} land cells in {self.chunks} chunk(s)")
        return {"executable": str(exe), "build_key": key, "land_cells": str(domain.n_land),
                "chunks": str(self.chunks), "gridinfo": str(gridinfo)}

    def _state(self, forcing_dir: Path) -> dict:
        path = self._workspace() / "setup.json"
        if not path.is_file() or "gridinfo_luc" not in json.loads(path.read_text()):
            self.setup(forcing_dir)  # none yet, or made before land use was wired
        state = json.loads(path.read_text())
        if len(state["chunks"]) != self.chunks:
            raise RenderError(f"{path}: the campaign's CABLE set-up has {len(state['chunks'])} "
                              f"chunks, the model now asks for {self.chunks}: start a new run "
                              "directory to change the chunking")
        return state

    # ------------------------------------------------------------------ per run and chunk
    def chunk_runs(self, run: ModelRun) -> list[ModelRun]:
        return [dataclasses.replace(run, chunk=k) for k in range(self.chunks)]

    @staticmethod
    def chunk_dir(run: ModelRun, k: int) -> Path:
        return run.work_dir / f"c{k:03d}"

    def job_dir(self, run: ModelRun) -> Path:
        return self.chunk_dir(run, 0 if run.chunk is None else int(run.chunk))

    def restart_out(self, run: ModelRun) -> Path:
        """``<run>/restart/`` holding one ``cNNN/`` per chunk and ``chunks.json``."""
        return run.work_dir / "restart"

    def output_files(self, run: ModelRun, freq: str) -> list[Path]:
        if freq not in ("monthly", "annual"):
            raise ValueError(f"CABLE-POP driver writes monthly output only; asked for {freq!r}")
        return [run.work_dir / "out" / MERGED_OUTPUT]

    def _shared(self, run: ModelRun, state: dict) -> Path:
        """``<run>/shared/``: parameter tables, CO2, N deposition and met links of the run
        (written once for all its chunks; rewritten when anything they depend on changed)."""
        shared = run.work_dir / "shared"
        params = self.parameters(run)
        domain = inputs.Domain.from_json(state["domain"])
        met_store = self._workspace() / "met" / run.forcing_dir.name
        stamp_doc = json.dumps({
            "params": params, "years": [dataclasses.astuple(y) for y in run.years],
            "forcing": str(run.forcing_dir), "ndep": str(run.ndep_dir), "domain": domain.key(),
            "landuse": str(run.landuse_dir) if with_land_use(run) else None,
            "tables": state["tables"]}, sort_keys=True)
        stamp = shared / ".stamp"
        if stamp.is_file() and stamp.read_text() == stamp_doc:
            return shared
        for forcing_year in sorted({y.forcing_year for y in run.years}):
            inputs.write_met_year(met_store, run.forcing_dir, forcing_year, domain)
        write_tables(Path(state["tables"]), shared / "params", params)
        inputs.write_co2(shared / "co2.txt", {y.year: y.co2_ppm for y in run.years})
        for old in shared.glob("NDep_*.nc"):
            old.unlink()
        ndep = ndep_by_simulated_year(run)
        inputs.write_ndep(shared, domain, [y.year for y in run.years],
                          inputs.campaign_ndep(ndep) if ndep else inputs.preindustrial_ndep)
        inputs.link_met_years(shared / "met", met_store,
                              [(y.year, y.forcing_year) for y in run.years])
        if with_land_use(run):
            luc = shared / namelists.FILES["luc_dir"]
            landuse.write_luc_files(luc, Path(run.landuse_dir),
                                    [(y.year, int(y.landuse_year)) for y in run.years], domain)
            landuse.write_prim_only(luc / Path(namelists.FILES["prim_only"]).name, domain)
        atomic.write_text(stamp, stamp_doc)
        return shared

    def _restart_in(self, run: ModelRun, k: int, state: dict) -> Path | None:
        if run.restart_in is None:
            return None
        src = Path(run.restart_in)
        record = src / "chunks.json"
        if record.is_file():
            got = json.loads(record.read_text())
            if got.get("chunks") != state["chunks"]:
                raise RenderError(f"{record}: this restart was written by other land chunks "
                                  f"({len(got.get('chunks', []))}); the run has "
                                  f"{len(state['chunks'])}")
        chunk = src / f"c{k:03d}"
        if not chunk.is_dir():
            raise RenderError(f"{chunk}: restart of chunk {k} is missing (restart_in {src})")
        return chunk

    def prepare(self, run: ModelRun) -> list[str]:
        """Write chunk ``run.chunk``'s inputs; return the launcher command."""
        k = 0 if run.chunk is None else int(run.chunk)
        state = self._state(run.forcing_dir)
        if not 0 <= k < len(state["chunks"]):
            raise RenderError(f"chunk {k} does not exist ({len(state['chunks'])} chunks)")
        shared = self._shared(run, state)
        domain = inputs.Domain.from_json(state["domain"])
        cells = np.asarray(state["chunks"][k], dtype="int64").reshape(-1, 2)
        cdir = self.chunk_dir(run, k)
        restart = self.restart_out(run) / f"c{k:03d}"
        for d in (cdir / "out", cdir / "dump", cdir / "inputs", restart):
            d.mkdir(parents=True, exist_ok=True)
        rin = self._restart_in(run, k, state)
        luc = self._land_use_plan(run, rin)
        if luc:
            inputs.check_land_use_gridinfo(Path(state["gridinfo_luc"]))
        _link(cdir / "restart", os.path.relpath(restart, cdir))
        _link(cdir / "rin", os.path.relpath(rin, cdir) if rin else None)
        _link(cdir / "params", os.path.relpath(shared / "params", cdir))
        _link(cdir / "met", os.path.relpath(shared / "met", cdir))
        inputs.write_landmask(cdir / "inputs" / "landmask.nc", domain, cells)
        _link(cdir / "inputs" / "gridinfo.nc", state["gridinfo_luc" if luc else "gridinfo"])
        _link(cdir / namelists.FILES["luc_dir"],
              os.path.relpath(shared / namelists.FILES["luc_dir"], cdir) if luc else None)
        _link(cdir / "inputs" / "co2.txt", os.path.relpath(shared / "co2.txt", cdir / "inputs"))
        for old in (cdir / "inputs").glob("NDep_*.nc"):
            old.unlink()
        for ndep in shared.glob("NDep_*.nc"):
            _link(cdir / "inputs" / ndep.name, os.path.relpath(ndep, cdir / "inputs"))
        y0, y1 = run.years[0].year, run.years[-1].year
        analytic = run.spinup_mode == "analytic"
        settings = namelists.ChunkSettings(y0, y1, restart_in=rin is not None,
                                           dump_write=analytic, dt_hours=self.dt_hours)
        restart_inputs = [f"rin/{Path(r).name}" for r in CABLE_RESTARTS] if rin else []
        main = {"dir": ".", "kind": "cable", "outputs": [namelists.FILES["out"]],
                "restarts": list(CABLE_RESTARTS), "restart_inputs": restart_inputs}
        steps = [main]
        climate_file = namelists.FILES["luc_climate_in" if rin else "luc_climate_out"]
        if luc:
            steps = self._land_use_steps(cdir, settings, main, luc, rin is not None)
            atomic.write_text(restart / landuse.LUC_RECORD, json.dumps(
                {"run_type": luc, "dynamic": luc != "static",
                 "landuse_year": int(run.years[-1].landuse_year)}) + "\n")
        self._write_namelists(cdir, settings, y0, y1, luc, climate_file)
        if analytic:
            adir = cdir / "analytic"
            for d in (adir / "out", adir / "restart"):
                d.mkdir(parents=True, exist_ok=True)
            for name in ("inputs", "params", "met", "dump"):
                _link(adir / name, f"../{name}")
            _link(adir / "rin", "../restart")
            _link(adir / namelists.FILES["luc_dir"], f"../{namelists.FILES['luc_dir']}"
                  if luc else None)
            self._write_namelists(adir, dataclasses.replace(settings, restart_in=True,
                                                            analytic=True, dump_write=False),
                                  y0, y1, luc, namelists.FILES["luc_climate_in"])
            steps.append({"dir": "analytic", "kind": "CASA-only analytic spin-up",
                          "outputs": [], "restarts": list(ANALYTIC_RESTARTS),
                          "promote": "restart"})
        job = {"executable": state["executable"], "steps": steps, "n_land": len(cells),
               "n_months": 12 * len(run.years), "years": [y0, y1], "chunk": k,
               "run_id": run.run_id}
        atomic.write_text(cdir / JOB_FILE, json.dumps(job, indent=1) + "\n")
        return [sys.executable, "-m", "callmip.drivers.cable_pop.launch", str(cdir)]

    def _land_use_plan(self, run: ModelRun, rin: Path | None) -> str | None:
        """CABLE's ``POPLUC_RunType`` of this run, or None when it has no land use."""
        if not with_land_use(run):
            return None
        previous = None
        if rin is not None:
            record = rin / landuse.LUC_RECORD
            if not record.is_file():
                raise RenderError(f"{record}: the restart this run starts from was written "
                                  "without land use (CABLE's tiles differ); start the "
                                  "campaign in a new run directory")
            previous = json.loads(record.read_text())
        return landuse.popluc_run_type([int(y.landuse_year) for y in run.years], previous)

    def _land_use_steps(self, cdir: Path, settings: namelists.ChunkSettings, main: dict,
                        run_type: str, warm: bool) -> list[dict]:
        """The steps of a run with land use: the climate file goes on from restart to
        restart; a cold start first runs CABLE without land use on one patch per cell, whose
        climate restart gives each cell's biome (:mod:`.landuse`); a run that continues
        changing land use reads POPLUC's restart, one that has it writes one."""
        climate_out = namelists.FILES["luc_climate_out"]
        if run_type != "static":
            main["restarts"].append(namelists.FILES["luc_out"])
        if warm:
            main["restart_inputs"].append(namelists.FILES["luc_climate_in"])
            if run_type == "restart":
                main["restart_inputs"].append(namelists.FILES["luc_in"])
            main["carry"] = [[namelists.FILES["luc_climate_in"], climate_out]]
            return [main]
        cdir_climate = cdir / "climate"
        for d in (cdir_climate / "out", cdir_climate / "restart"):
            d.mkdir(parents=True, exist_ok=True)
        for name in ("inputs", "params", "met"):
            _link(cdir_climate / name, f"../{name}")
        self._write_namelists(cdir_climate, dataclasses.replace(settings, dump_write=False),
                              settings.year_start, settings.year_end)
        climate = {"dir": "climate", "kind": "climate (biomes for land use)", "outputs": [],
                   "restarts": [namelists.FILES["climate_out"]],
                   "carry": [[f"climate/{namelists.FILES['climate_out']}", climate_out]]}
        return [climate, main]

    def _write_namelists(self, where: Path, settings: namelists.ChunkSettings, y0: int,
                         y1: int, popluc: str | None = None,
                         climate_file: str = namelists.FILES["luc_climate_in"]) -> None:
        """The four namelists; ``popluc`` is the land-use run type (None: without)."""
        overrides = dict(self.cable_nml)
        if popluc:
            overrides = {"cable_user%POPLUC": True, "cable_user%POPLUC_RunType": popluc,
                         **overrides}
        atomic.write_text(where / "cable.nml", namelists.cable_nml(settings, overrides))
        atomic.write_text(where / "cru.nml", namelists.cru_nml("met", self.dt_hours))
        atomic.write_text(where / "met_names.nml", namelists.met_names_nml())
        atomic.write_text(where / "luc.nml", namelists.luc_nml(
            y0, y1, climate_file, namelists.FILES["luc_dir"], namelists.FILES["prim_only"]))

    # ------------------------------------------------------------------ after the chunks
    def finish(self, run: ModelRun) -> None:
        """Merge the chunks' outputs into ``out/cable_out.nc`` and record the chunking with
        the restart. Skipped when the merged file is newer than every chunk's output."""
        state = self._state(run.forcing_dir)
        files = [self.chunk_dir(run, k) / namelists.FILES["out"]
                 for k in range(len(state["chunks"]))]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise NativeOutputError(f"chunk outputs missing, cannot merge: {missing}")
        merged = self.output_files(run, "monthly")[0]
        record = self.restart_out(run) / "chunks.json"
        fresh = merged.is_file() and merged.stat().st_mtime_ns >= max(
            f.stat().st_mtime_ns for f in files)
        if not fresh:
            domain = inputs.Domain.from_json(state["domain"])
            offset = np.array([domain.i0, domain.j0])
            cells = [np.asarray(c, dtype="int64").reshape(-1, 2) + offset
                     for c in state["chunks"]]
            merge_chunks(files, cells, np.asarray(state["grid"]["lat"]),
                         np.asarray(state["grid"]["lon"]), sorted(self.native_variables()),
                         merged)
        atomic.write_text(record, json.dumps({"chunks": state["chunks"],
                                         "domain": inputs.Domain.from_json(
                                             state["domain"]).key()}) + "\n")

    # ------------------------------------------------------------------ outputs
    def preprocess(self, native: xr.Dataset) -> xr.Dataset:
        """Monthly records on the 15th of their month (noleap) with bounds."""
        return monthly_axis(native, self.time_stamp, source=f"{self.name} output")


def with_land_use(run: ModelRun) -> bool:
    """The run has land-use inputs for every year (POPLUC runs: see :mod:`.landuse`)."""
    return run.landuse_dir is not None and all(y.landuse_year is not None for y in run.years)


def _link(path: Path, target: str | None) -> None:
    """(Re)make the symlink ``path`` -> ``target`` (remove it when target is None)."""
    if path.is_symlink() or path.exists():
        if path.is_dir() and not path.is_symlink():
            raise RenderError(f"{path} is a directory, expected a link")
        path.unlink()
    if target is not None:
        path.symlink_to(target)


__all__ = ["BY_NAME", "CABLE_ZSE", "CablePopDriver", "top_layer_weights"]
