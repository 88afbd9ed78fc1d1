"""CABLE-POP inputs checked against the branch's own source and tables (no CABLE run needed).

The namelists are compared with the namelist groups and derived types declared in the Fortran
of ``../shared/models/cable-pop-trendy`` (so a key this branch would reject fails here first),
the parameter tables with the branch's ``params/v12`` files as the reader walks them, and the
met, N-deposition, CO2 and land-mask files with the units and indexing the reader expects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from callmip.drivers.base import NativeOutputError
from callmip.drivers.cable_pop import inputs, namelists, params
from callmip.drivers.cable_pop.build import default_source
from callmip.drivers.cable_pop.judge import check_messages
from callmip.drivers.cable_pop.merge import merge_chunks
from callmip.drivers.render import RenderError, load_params

SRC = default_source()
TABLES = SRC / "params" / "v12"
pytestmark = pytest.mark.skipif(not SRC.is_dir(), reason=f"no CABLE source at {SRC}")


def _strip_comment(line: str) -> str:
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "!":
            return line[:i]
    return line


def _fortran(path: Path) -> str:
    """The source with comments removed and continuation lines joined."""
    lines = [_strip_comment(line).rstrip() for line in
             path.read_text(errors="replace").splitlines()]
    return re.sub(r"&\s*\n\s*&?", " ", "\n".join(lines))


def namelist_group(path: Path, group: str) -> set[str]:
    m = re.search(rf"namelist\s*/\s*{group}\s*/(.*?)\n", _fortran(path), re.I)
    assert m, f"no namelist /{group}/ in {path}"
    return {x.strip().lower() for x in m.group(1).split(",") if x.strip()}


def type_members(path: Path, name: str) -> set[str]:
    text = _fortran(path)
    m = re.search(rf"^\s*type\s+{name}\b(.*?)^\s*end\s*type", text, re.I | re.M | re.S)
    assert m, f"no TYPE {name} in {path}"
    members = set()
    for decl in m.group(1).splitlines():
        if "::" not in decl:
            continue
        body = re.sub(r"\([^()]*\)", "", decl.split("::", 1)[1])
        for item in re.sub(r"\([^()]*\)", "", body).split(","):
            ident = re.match(r"\s*([A-Za-z_]\w*)", item)
            if ident:
                members.add(ident.group(1).lower())
    return members


def nml_keys(text: str) -> list[str]:
    return [line.split("=", 1)[0].strip() for line in text.splitlines() if "=" in line]


def test_cable_nml_uses_only_keys_this_branch_declares():
    group = namelist_group(SRC / "offline/cable_driver.F90", "cablenml")
    members = {
        "filename": type_members(SRC / "core/biogeophys/cable_common.F90", "filenames_type"),
        "cable_user": type_members(SRC / "core/biogeophys/cable_common.F90",
                                   "kbl_user_switches"),
        "output": type_members(SRC / "offline/cable_iovars.F90", "output_inclusion_type"),
        "check": type_members(SRC / "offline/cable_iovars.F90", "checks_type"),
        "casafile": type_members(SRC / "core/biogeochem/casa_variable.F90", "casafiles_type"),
    }
    for cold in (True, False):
        text = namelists.cable_nml(namelists.ChunkSettings(1901, 1902, restart_in=not cold,
                                                           analytic=not cold))
        assert text.startswith("&cablenml\n")
        for key in nml_keys(text):
            top, _, member = key.lower().partition("%")
            assert top in group, f"{key}: not in &cablenml of this branch"
            if member:
                assert member in members[top], f"{key}: {top} has no member {member!r}"
    # the keys the issue found rejected are not written
    text = namelists.cable_nml(namelists.ChunkSettings(1901, 1902, restart_in=False))
    assert "CO2_file" not in text and "calibration_params" not in text
    assert 'cable_user%MetType = "cru"' in text


def test_cru_met_names_and_luc_namelists_match_the_reader():
    cru = SRC / "offline/cable_cru_TRENDY.F90"
    for text, group in [(namelists.cru_nml("met", 3.0), "crunml"),
                        (namelists.met_names_nml(), "MetNames")]:
        declared = namelist_group(cru, group)
        assert {k.lower() for k in nml_keys(text)} <= declared
    names = nml_keys(namelists.met_names_nml())
    # every count is set, else the reader allocates from garbage (one run asked for 61 GB)
    for var in ("rain", "lwdn", "swdn", "pres", "qair", "Tmax", "Tmin", "uwind", "vwind",
                "wind", "vph0900", "vph1500", "fdiff"):
        assert f"{var}No" in names
    luc = namelist_group(SRC / "offline/cable_LUC_EXPT.F90", "lucnml")
    assert {k.lower() for k in nml_keys(namelists.luc_nml(1901, 1902))} <= luc


def test_prior_is_the_branch_tables_and_edits_touch_only_their_fields(tmp_path):
    prior = params.read_table_values(TABLES)
    assert all(len(v) == 17 for v in prior.values())
    assert prior["g1"][1] == 6.5 and prior["vcmax_scalar"][0] == 0.64  # read like CABLE does
    assert prior["alloc_leaf"][5] == 0.35 and prior["sla"][0] == 0.009
    edited = dict(prior, g1=[v * 2 for v in prior["g1"]], alloc_wood=[0.1] * 17)
    out = params.write_tables(TABLES, tmp_path, edited)
    back = params.read_table_values(tmp_path)
    assert back["g1"] == [v * 2 for v in prior["g1"]] and back["alloc_wood"] == [0.1] * 17
    assert back["vcmax_scalar"] == prior["vcmax_scalar"]
    for name in (params.VEG_FILE, params.PFT_FILE, params.SOIL_FILE):
        old = (TABLES / name).read_bytes().splitlines()
        new = out[name].read_bytes().splitlines()
        assert len(old) == len(new)
        changed = sum(a != b for a, b in zip(old, new, strict=True))
        expected = {params.VEG_FILE: 16, params.PFT_FILE: 17, params.SOIL_FILE: 0}[name]
        assert changed == expected, name  # PFT 13's g1 = 0 stays 0: its line is untouched


def test_a_table_of_another_layout_is_refused(tmp_path):
    for name in (params.VEG_FILE, params.SOIL_FILE):
        (tmp_path / name).write_bytes((TABLES / name).read_bytes())
    lines = (TABLES / params.PFT_FILE).read_text().splitlines(keepends=True)
    del lines[40]  # one PFT row of the allocation block missing
    (tmp_path / params.PFT_FILE).write_text("".join(lines))
    with pytest.raises(params.ParameterTableError, match=r"should be row .* of the "):
        params.read_table_values(tmp_path)


def test_posterior_ensemble_members_get_their_own_g1(tmp_path):
    prior = params.read_table_values(TABLES)
    doc = json.loads((Path(__file__).resolve().parents[2] /
                      "configs/params/CABLE-POP_posterior.json").read_text())
    p = tmp_path / "post.json"
    p.write_text(json.dumps(doc))
    central = load_params(p, prior)
    members = [load_params(p, prior, k) for k in range(3)]
    assert central["g1"][1] == pytest.approx(6.5 * 1.4)
    assert [m["g1"][1] for m in members] == pytest.approx([6.5 * 1.3, 6.5 * 1.4, 6.5 * 1.5])
    assert all(m["vcmax_scalar"] == central["vcmax_scalar"] for m in members)
    bad = dict(doc, values={"g1": [1.0] * 3})
    p.write_text(json.dumps(bad))
    with pytest.raises(RenderError, match="list of 17 values"):
        load_params(p, prior)


def _domain() -> inputs.Domain:
    land = np.array([[True, False, True], [True, True, False]])
    return inputs.Domain(np.array([45.0, 47.0]), np.array([3.0, 5.0, 7.0]), 1, 2, land)


def test_ndep_records_follow_the_readers_year_index(tmp_path):
    domain = _domain()
    path = inputs.write_ndep(tmp_path, domain, [1901, 1902],
                             lambda y, d: np.full(d.land.shape, float(y - 1900)))
    assert path.name == "NDep_18500101_19021231.nc"
    with netCDF4.Dataset(path) as ds:
        v = ds["N_deposition"][:]
        assert v.shape == (53, 2, 3) and ds["N_deposition"].units == "kg N m-2 s-1"
        # the reader takes record year - 1849 (1-based): 1901 -> record 52
        np.testing.assert_allclose(v[1901 - 1850], 1.0 * inputs.KG_HA_YR_TO_KG_M2_S, rtol=1e-6)
        np.testing.assert_allclose(v[1902 - 1850], 2.0 * inputs.KG_HA_YR_TO_KG_M2_S, rtol=1e-6)
    # 0.79 kg N/ha/yr is 2.5e-12 kg N m-2 s-1, 0.079 g m-2 yr-1
    assert pytest.approx(2.505e-12, rel=1e-3) == \
        inputs.PREINDUSTRIAL_NDEP_KG_N_HA_YR * inputs.KG_HA_YR_TO_KG_M2_S


def test_co2_and_landmask(tmp_path):
    co2 = inputs.write_co2(tmp_path / "co2.txt", {1902: 287.5, 1901: 287.42})
    assert co2.read_text().splitlines()[1:] == ["1901 287.420", "1902 287.500"]
    with pytest.raises(inputs.CableInputError, match="consecutive"):
        inputs.write_co2(tmp_path / "bad.txt", {1901: 1.0, 1903: 2.0})
    domain = _domain()
    mask = inputs.write_landmask(tmp_path / "m.nc", domain, domain.cells[1:3])
    with netCDF4.Dataset(mask) as ds:
        assert ds["land"][:].tolist() == [[0, 0, 1], [1, 0, 0]]
    assert [len(c) for c in domain.chunk_cells(2)] == [2, 2]
    with pytest.raises(inputs.CableInputError):
        domain.chunk_cells(5)


def test_judge_finds_errors_cable_exits_zero_on(tmp_path):
    (tmp_path / "cable.nml").write_text('&cablenml\n    cable_user%CO2_file = "x"\n/\n')
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    out.write_text(" CABLE_USER%YearStart\n")
    err.write_text("    5010Cannot match namelist object name %co2_file\n")
    verdict = check_messages(tmp_path, out, err, 0)
    assert len(verdict.problems) == 1
    assert "cable.nml (entry 'cable_user%CO2_file'): CABLE rejected the namelist" in \
        verdict.problems[0]
    out.write_text(" netCDF error:\n Error finding desired variable in met/tmax/t.nc\n"
                   " NetCDF: Variable not found\n")
    err.write_text("")
    (problem,) = check_messages(tmp_path, out, err, 131).problems
    assert str((tmp_path / "met/tmax/t.nc").resolve()) in problem
    assert "Variable not found" in problem
    out.write_text(" Finished.  10  seconds needed for total run\n")
    assert check_messages(tmp_path, out, err, 0).ok
    out.write_text(" Finished.  3  seconds needed for year\n")
    assert "did not print" in check_messages(tmp_path, out, err, 0).problems[0]


def _chunk_file(path: Path, lat, lon, values) -> Path:
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", None)
        ds.createDimension("land", len(lat))
        ds.createDimension("soil", 2)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar = "seconds since 1901-01-01 00:00:00", "noleap"
        t[:] = [1339200.0, 3888000.0]
        for name, v in (("local_lat", lat), ("local_lon", lon)):
            ds.createVariable(name, "f4", ("land",))[:] = v
        q = ds.createVariable("Qle", "f4", ("time", "land"), fill_value=np.float32(-1e33))
        q.units = "W/m^2"
        q[:] = values
        ds.createVariable("SoilMoist", "f4", ("time", "soil", "land"))[:] = \
            np.stack([values, 2 * values], axis=1)
    return path


def test_merge_puts_every_chunk_cell_in_place_and_refuses_foreign_chunks(tmp_path):
    grid_lat, grid_lon = np.array([41.0, 43.0, 45.0]), np.array([1.0, 3.0, 5.0, 7.0])
    cells = [np.array([[0, 1], [1, 2]]), np.array([[2, 3]])]
    f0 = _chunk_file(tmp_path / "c0.nc", [41.0, 43.0], [3.0, 5.0], np.array([[1, 2], [3, 4.]]))
    f1 = _chunk_file(tmp_path / "c1.nc", [45.0], [7.0], np.array([[5.0], [6.0]]))
    out = merge_chunks([f0, f1], cells, grid_lat, grid_lon, ["Qle", "SoilMoist"],
                       tmp_path / "merged.nc")
    with netCDF4.Dataset(out) as ds:
        q = ds["Qle"][:].filled(np.nan)
        assert q.shape == (2, 3, 4) and ds["Qle"].units == "W/m^2"
        assert q[1, 0, 1] == 3 and q[1, 1, 2] == 4 and q[1, 2, 3] == 6
        assert np.isnan(q[:, 0, 0]).all() and np.isfinite(q).sum() == 6
        assert ds["SoilMoist"][:].shape == (2, 2, 3, 4) and ds["SoilMoist"][1, 1, 2, 3] == 12
    with pytest.raises(NativeOutputError, match="another domain or chunk"):
        merge_chunks([f0, f1], [np.array([[0, 0], [1, 2]]), cells[1]], grid_lat, grid_lon,
                     ["Qle"], tmp_path / "bad.nc")
    assert not (tmp_path / "bad.nc").exists()
