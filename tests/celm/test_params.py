"""Parameter table, parameter files (prior, posterior, ensemble) and their validation."""

from __future__ import annotations

import json

import pytest

from celm.errors import CelmInputError
from celm.params import (
    PARAMETERS,
    defaults,
    kernel_params,
    load_params,
    posterior_demo_path,
    write_params,
    write_prior,
)


def test_table_defaults_inside_bounds():
    assert 10 <= len(PARAMETERS) <= 20
    for spec in PARAMETERS:
        assert spec.lower < spec.default < spec.upper, spec.name
        assert spec.units and spec.description


def test_prior_roundtrip(tmp_path):
    path = write_prior(tmp_path / "prior.json")
    doc = json.loads(path.read_text())
    assert doc["kind"] == "prior" and doc["model"] == "celm"
    assert load_params(path) == defaults()


def test_missing_names_take_defaults(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"model": "celm", "kind": "posterior", "values": {"q10": 2.5}}))
    values = load_params(path)
    assert values["q10"] == 2.5
    assert values["kphio"] == defaults()["kphio"]


def test_unknown_name_is_an_error(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"values": {"q10x": 2.5}}))
    with pytest.raises(CelmInputError, match="q10x"):
        load_params(path)


def test_out_of_bounds_names_parameter_and_bounds(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"values": {"tau_som": 1000.0}}))
    with pytest.raises(CelmInputError) as err:
        load_params(path)
    msg = str(err.value)
    assert "tau_som" in msg and "[5.0, 400.0]" in msg and str(path) in msg


def test_allocation_sum_checked():
    with pytest.raises(CelmInputError, match="allocation"):
        kernel_params({"alloc_leaf": 0.5, "alloc_root": 0.5, "alloc_labile": 0.2})


def test_ensemble_member_selection(tmp_path):
    path = write_params(
        tmp_path / "post.json", {"q10": 1.8}, ensemble=[{"q10": 1.5}, {"q10": 2.2, "sla": 0.02}]
    )
    assert load_params(path)["q10"] == 1.8
    assert load_params(path, member=0)["q10"] == 1.5
    m1 = load_params(path, member=1)
    assert m1["q10"] == 2.2 and m1["sla"] == 0.02
    with pytest.raises(CelmInputError, match="only 2 members"):
        load_params(path, member=2)


def test_bad_ensemble_member_fails_at_load(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps({"values": {}, "ensemble": {"names": ["q10"], "members": [[2.0], [9.0]]}})
    )
    with pytest.raises(CelmInputError, match="ensemble member 1"):
        load_params(path)


def test_posterior_demo_differs_from_prior():
    post = load_params(posterior_demo_path())
    prior = defaults()
    moved = [n for n in prior if post[n] != prior[n]]
    assert len(moved) >= 3
    for m in range(5):
        assert load_params(posterior_demo_path(), member=m) != post
