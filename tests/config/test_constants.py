"""The programs that keep their own copy of a constant (they run without callmip) agree with
callmip.constants, the one place each constant is defined."""

import importlib.util

import celm.constants
from callmip import constants
from callmip.config import REPO_ROOT


def test_celm_uses_the_pipeline_calendar():
    assert celm.constants.SECONDS_PER_DAY == constants.SECONDS_PER_DAY
    assert celm.constants.DAYS_PER_YEAR == constants.DAYS_PER_YEAR


def test_esmvaltool_diagnostic_uses_the_pipeline_radius():
    path = REPO_ROOT / "esmvaltool_bridge" / "diag" / "callmip_bias.py"
    spec = importlib.util.spec_from_file_location("callmip_bias_for_test", path)
    diag = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(diag)
    assert diag.EARTH_RADIUS_M == constants.EARTH_RADIUS_M


def test_year_conversions_are_the_noleap_year():
    assert constants.SECONDS_PER_YEAR == 365 * 86_400
    assert constants.SCENARIO_FIRST_YEAR == 2015
