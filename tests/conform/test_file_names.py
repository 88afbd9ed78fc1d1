"""One formatter and one parser per CalLMIP file name (protocol v2 section 7): they round-trip."""

from hypothesis import given
from hypothesis import strategies as st

from callmip.conform.table import (
    RESOLUTION_LABELS,
    global_file_name,
    parse_global_file_name,
    parse_site_file_name,
    site_file_name,
)

_model = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,8}", fullmatch=True)
_version = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,8}", fullmatch=True)


@given(_model, _version, st.sampled_from(sorted(RESOLUTION_LABELS)),
       st.sampled_from(["monthly", "annual"]), st.integers(1700, 2100),
       st.integers(0, 400), st.sampled_from(["Prior", "Posterior"]))
def test_global_names_round_trip(model, version, res, freq, y0, span, stage):
    name = global_file_name(model, version, res, freq, y0, y0 + span, stage)
    parsed = parse_global_file_name(name)
    assert parsed is not None, name
    assert (parsed.model_id, parsed.resolution, parsed.frequency, parsed.y0, parsed.y1,
            parsed.stage) == (f"{model}.{version}", RESOLUTION_LABELS[res], freq, y0, y0 + span,
                              stage)
    assert parsed.name == name
    assert parse_site_file_name(name) is None


@given(_model, _version, st.integers(1, 6), st.sampled_from(["DK-Sor", "US-Ha1", "FR-Pue"]),
       st.sampled_from(["Cal", "Val"]), st.sampled_from(["Prior", "Posterior"]))
def test_site_names_round_trip(model, version, scenario, site, calval, stage):
    name = site_file_name(model, version, scenario, site, calval, stage)
    parsed = parse_site_file_name(name)
    assert parsed is not None and parsed.name == name
    assert parse_global_file_name(name) is None


def test_names_off_the_protocol_are_refused():
    for bad in ("CELM.1_global_3deg_monthly_1901-1910_Prior.nc",
                "CELM.1_global_2deg_monthly_1901-1910_prior.nc",
                "CELM.1_global_2deg_monthly_1901-1910_Prior.nc4"):
        assert parse_global_file_name(bad) is None
