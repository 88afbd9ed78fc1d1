"""The scheduler registry is the one place a backend is named: the campaign schema's choices and
the run stage's backend both come from it."""

import typing

import pytest

from callmip.config import SchedulerConfig
from callmip.scheduler import LocalScheduler
from callmip.scheduler.registry import SCHEDULER_NAMES, make_scheduler


def test_campaign_schema_offers_exactly_the_registered_backends():
    assert typing.get_args(SchedulerConfig.model_fields["backend"].annotation) == SCHEDULER_NAMES
    assert "local" in SCHEDULER_NAMES and "slurm" in SCHEDULER_NAMES


def test_make_scheduler_builds_the_local_backend_and_refuses_unknown_names(tmp_path):
    sched = make_scheduler("local", tmp_path, 3)
    assert isinstance(sched, LocalScheduler) and sched.max_parallel == 3
    with pytest.raises(ValueError, match="unknown scheduler backend 'pbs'"):
        make_scheduler("pbs", tmp_path)
