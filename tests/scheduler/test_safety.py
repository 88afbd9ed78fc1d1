"""No campaign or UI value can inject shell commands or write outside the run directory.

Names, env keys, resources and paths are refused when unsafe; command arguments and env values
are neutralised (passed literally). The quoting of Slurm job scripts is checked as a property:
for arbitrary text, the generated script, run by a real bash, hands the model exactly that text.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from callmip.scheduler import JobSpec, JobSpecError, JobState, LocalScheduler, Resources
from callmip.scheduler.slurm import SlurmScheduler, array_spec, slurm_filename

NASTY = [
    "$(touch {m})",
    "`touch {m}`",
    "; touch {m}",
    "&& touch {m}",
    "| touch {m}",
    "../../etc/passwd",
    "$HOME",
    "${IFS}",
    "'",
    '"',
    "\\",
    "%j %a %%",
    "{array_index}",
    "a b\tc",
    "* ?",
    "-n",
    "--output=/etc/x",
    "#SBATCH --mem=1",
]

SCHEDULERS = {
    "local": lambda root: LocalScheduler(root, 2),
    "slurm": lambda root: SlurmScheduler(root),
}


@pytest.mark.parametrize("kind", SCHEDULERS)
@pytest.mark.parametrize(
    "name", ["a;b", "$(id)", "`id`", "../x", "a b", "x/y", "-rf", "a\nb", "abc\n", ""]
)
def test_unsafe_job_names_are_rejected(tmp_path, kind, name):
    with pytest.raises(JobSpecError, match="not allowed"):
        SCHEDULERS[kind](tmp_path).submit(JobSpec(name, ("true",), tmp_path, tmp_path / "x.log"))
    assert not list(tmp_path.iterdir()), "nothing may be written for a refused job"


@pytest.mark.parametrize("kind", SCHEDULERS)
@pytest.mark.parametrize(
    ("workdir", "log"),
    [
        ("../elsewhere", "x.log"),
        (".", "../x.log"),
        ("/etc", "x.log"),
        (".", "/tmp/x.log"),
        ("a/../../b", "x.log"),
    ],
)
def test_paths_outside_the_run_directory_are_rejected(tmp_path, kind, workdir, log):
    root = tmp_path / "run"
    root.mkdir()
    spec = JobSpec("x", ("true",), root / workdir, root / workdir / log)
    with pytest.raises(JobSpecError, match="outside the run directory"):
        SCHEDULERS[kind](root).submit(spec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("kind", SCHEDULERS)
def test_symlink_escaping_the_run_directory_is_rejected(tmp_path, kind):
    root = tmp_path / "run"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(JobSpecError, match="outside the run directory"):
        SCHEDULERS[kind](root).submit(JobSpec("x", ("true",), root, root / "link" / "x.log"))


@pytest.mark.parametrize("kind", SCHEDULERS)
@pytest.mark.parametrize("key", ["A;B", "$(id)", "lower", "A B", "1A", "PATH=x", "A\n"])
def test_unsafe_env_names_are_rejected(tmp_path, kind, key):
    with pytest.raises(JobSpecError, match="environment name"):
        SCHEDULERS[kind](tmp_path).submit(
            JobSpec("x", ("true",), tmp_path, tmp_path / "x.log", env={key: "1"})
        )


@pytest.mark.parametrize("field", ["partition", "account", "qos"])
@pytest.mark.parametrize("value", ["debug;rm -rf /", "$(id)", "`id`", "a b", "x\n#SBATCH -N 99"])
def test_resource_names_with_shell_syntax_are_rejected(field, value):
    with pytest.raises(ValidationError):
        Resources(**{field: value})


@pytest.mark.parametrize("value", [0, -1, 10**9])
def test_resource_numbers_are_bounded(value):
    with pytest.raises(ValidationError):
        Resources(walltime_min=value)


def test_control_characters_and_bad_dependencies_are_rejected(tmp_path):
    sched = SlurmScheduler(tmp_path)
    for spec in [
        JobSpec("x", ("echo", "a\nb"), tmp_path, tmp_path / "x.log"),
        JobSpec("x", ("true",), tmp_path, tmp_path / "x.log", env={"A": "1\r2"}),
        JobSpec("x", ("true",), tmp_path / "a\nb", tmp_path / "x.log"),
        JobSpec("x", ("true",), tmp_path, tmp_path / "x.log", tag="t;id"),
        JobSpec("x", "echo hi", tmp_path, tmp_path / "x.log"),
    ]:
        with pytest.raises(JobSpecError):
            sched.submit(spec)
    with pytest.raises(JobSpecError, match="not a Slurm job id"):
        sched.job_script(
            JobSpec("x", ("true",), tmp_path, tmp_path / "x.log", depends_on=("1;scancel -u root",))
        )
    with pytest.raises(JobSpecError, match="not a Slurm job id"):
        sched.job_script(
            JobSpec("x", ("true",), tmp_path, tmp_path / "x.log", depends_on=("12\n",))
        )
    bypassed = Resources.model_construct(partition="debug\n#SBATCH --uid=0", walltime_min=5)
    with pytest.raises(ValidationError):
        sched.job_script(JobSpec("x", ("true",), tmp_path, tmp_path / "x.log", bypassed))
    with pytest.raises(JobSpecError, match="backslash"):
        sched.submit(JobSpec("x", ("true",), tmp_path, tmp_path / "a\\b.log"))


def _run_script(script: str, cwd: Path, index: int | None = None) -> list[str]:
    """Run a generated job script with bash (as slurmd would) and return what the model got."""
    env = {"PATH": os.environ["PATH"], "SLURM_JOB_ID": "42"}
    if index is not None:
        env |= {"SLURM_ARRAY_TASK_ID": str(index), "SLURM_ARRAY_JOB_ID": "41"}
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(proc.stdout)


ECHO_ARGV = (
    sys.executable,
    "-c",
    "import json, os, sys; print(json.dumps(sys.argv[1:] + [os.environ['PAYLOAD']]))",
)

_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\n\r"), max_size=40
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=st.lists(_text, max_size=4), payload=_text)
def test_slurm_script_passes_any_argument_literally(tmp_path, args, payload):
    """Property: whatever the text, the model receives it verbatim (no expansion at all)."""
    sched = SlurmScheduler(tmp_path)
    spec = JobSpec(
        "echo", (*ECHO_ARGV, *args), tmp_path, tmp_path / "x.log", env={"PAYLOAD": payload}
    )
    spec.validate(tmp_path)
    assert _run_script(sched.job_script(spec), tmp_path) == [*args, payload]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=st.lists(_text, max_size=3), index=st.integers(0, 9999))
def test_array_script_expands_only_the_index(tmp_path, args, index):
    """In an array script the only expansion is ``{array_index}``; the rest stays literal."""
    sched = SlurmScheduler(tmp_path)
    spec = JobSpec(
        "ens",
        (*ECHO_ARGV, *args, "m{array_index}"),
        tmp_path,
        tmp_path / "x.log",
        env={"PAYLOAD": "$SLURM_JOB_ID{array_index}"},
    )
    got = _run_script(sched.job_script(spec, array="0-9999"), tmp_path, index)
    expected = [a.replace("{array_index}", str(index)) for a in args]
    assert got == [*expected, f"m{index}", f"$SLURM_JOB_ID{index}"]


def test_slurm_filename_and_array_spec():
    assert slurm_filename("/r/a%j_{array_index}.log") == "/r/a%%j_%a.log"
    assert array_spec([0, 1, 2, 3]) == "0-3"
    assert array_spec([7, 0, 2, 1, 9, 10], 4) == "0-2,7,9-10%4"
    assert array_spec([5]) == "5"


@pytest.mark.parametrize("kind", ["local", "slurm"])
def test_hostile_arguments_reach_the_model_verbatim(tmp_path, kind, request):
    """`$(...)`, backticks, `;`, `../` in parameters are data, not code, on a real backend."""
    if kind == "slurm":
        request.getfixturevalue("slurm")
    marker = tmp_path / "pwned"
    args = [a.replace("{m}", str(marker)) for a in NASTY]
    sched = SCHEDULERS[kind](tmp_path)
    log = tmp_path / "run %j %a" / "x.log"
    job = sched.submit(
        JobSpec(
            "echo",
            (*ECHO_ARGV, *args),
            tmp_path / "run %j %a",
            log,
            Resources(mem_mb=64, walltime_min=2),
            env={"PAYLOAD": f"$(touch {marker})`touch {marker}`"},
        )
    )
    from time import monotonic, sleep

    t0 = monotonic()
    while not (st_ := sched.poll([job])[job]).state.finished:
        assert monotonic() - t0 < 60
        sleep(0.1)
    assert st_.state == JobState.COMPLETED, log.read_text() if log.exists() else "no log"
    assert json.loads(log.read_text().strip().splitlines()[-1]) == [
        *args,
        f"$(touch {marker})`touch {marker}`",
    ]
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["run %j %a"]
