"""The Slurm backend: a thin, stateless layer over ``sbatch --parsable``, ``squeue``, ``scancel``
and Slurm's accounting (``sacct`` with slurmdbd, or the ``jobcomp/filetxt`` record without it).

Contract (see :mod:`callmip.scheduler.base`):

* ``submit`` writes ``<workdir>/<name>.sbatch`` and calls ``sbatch --parsable`` on it. Resources
  go into ``#SBATCH`` lines built from validated values only (pydantic-checked numbers and
  ``[A-Za-z0-9_.-]`` names); the command is one ``exec`` line in which every argv element is
  passed through :func:`shlex.quote`, and each environment value is an ``export K=<quoted>``. The
  only unquoted expansion a script ever contains is ``"$SLURM_ARRAY_TASK_ID"``, put where a job
  array template says ``{array_index}``. Paths (log, working directory) are given to ``sbatch``
  as arguments of an argv list, never through a shell, with Slurm's ``%`` patterns escaped.
* ``submit_array`` submits an ensemble as one job array and returns one id per member
  (``<array job id>_<index>``), which every other call accepts like a plain job id.
* ``poll`` asks ``squeue`` once for all ids (finished jobs stay there for ``MinJobAge``); ids
  ``squeue`` no longer knows are looked up in accounting, once for all of them: ``sacct`` when
  slurmdbd is configured, otherwise the ``jobcomp/filetxt`` file (the one ``sacct -c`` reads; it is
  parsed directly because ``sacct -c`` of Slurm 22.05 drops the array fields of that file, so
  array members could not be told apart).
* Nothing about jobs is kept in memory: a new object after an orchestrator restart sees the same
  jobs. Each script also leaves ``<run_root>/.slurm/tags/<tag>[.<index>]`` holding its job id when
  it starts, so :meth:`SlurmScheduler.find_tagged` can find a job long after ``squeue`` forgot it.

Slurm job states map onto :class:`JobState` in :data:`SLURM_STATES`; states still in motion
(``COMPLETING``, ``CONFIGURING``, ``REQUEUED``...) map to RUNNING/PENDING so a job is only
reported finished once Slurm has its final word.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from callmip import atomic
from callmip.scheduler.base import (
    ARRAY_INDEX,
    JobSpec,
    JobSpecError,
    JobState,
    JobStatus,
    Resources,
    Scheduler,
    SchedulerError,
    array_indices,
)

log = logging.getLogger(__name__)

#: A Slurm job id as we hand them out: ``123`` or, for an array member, ``123_4``.
SLURM_JOB_ID = re.compile(r"^[0-9]+(_[0-9]+)?$")

#: Slurm's job state names (squeue, sacct and the jobcomp file) -> our states.
SLURM_STATES: dict[str, JobState] = {
    "PENDING": JobState.PENDING,
    "REQUEUED": JobState.PENDING,
    "REQUEUE_HOLD": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING,
    "RESV_DEL_HOLD": JobState.PENDING,
    "CONFIGURING": JobState.RUNNING,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,
    "SUSPENDED": JobState.RUNNING,
    "STOPPED": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "COMPLETED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED,
    "TIMEOUT": JobState.TIMEOUT,
    "DEADLINE": JobState.TIMEOUT,
    "CANCELLED": JobState.CANCELLED,
    "REVOKED": JobState.CANCELLED,
    "NODE_FAIL": JobState.NODE_FAIL,
    "BOOT_FAIL": JobState.NODE_FAIL,
    "PREEMPTED": JobState.PREEMPTED,
    "OUT_OF_MEMORY": JobState.OUT_OF_MEMORY,
}

# Input environment variables that would override the #SBATCH lines we write (Slurm gives them
# precedence over the script); they are removed from sbatch's environment so that the campaign's
# validated values are what the job gets.
_OVERRIDING_ENV = (
    "SBATCH_ACCOUNT",
    "SBATCH_ARRAY_INX",
    "SBATCH_DEPENDENCY",
    "SBATCH_JOB_NAME",
    "SBATCH_MEM_PER_NODE",
    "SBATCH_NO_REQUEUE",
    "SBATCH_OPEN_MODE",
    "SBATCH_PARTITION",
    "SBATCH_QOS",
    "SBATCH_REQUEUE",
    "SBATCH_TIMELIMIT",
    "SBATCH_KILL_INV_DEP",
)

_SQUEUE_FIELDS = "JobID:|,JobArrayID:|,ArrayTaskID:|,State:|,exit_code:|,Comment:|,Reason:"
_CHUNK = 1000  # job ids per squeue/sacct call (keeps command lines short)

SacctMode = Literal["auto", "db", "jobcomp", "none"]


def slurm_state(raw: str) -> JobState:
    """Map a state as Slurm prints it (``CANCELLED by 0``, ``CANCELLED+``...) to a JobState."""
    words = raw.strip().split()
    if not words:
        return JobState.UNKNOWN
    return SLURM_STATES.get(words[0].rstrip("+").upper(), JobState.UNKNOWN)


def exit_code_from_wait_status(status: int) -> int:
    """squeue's ``exit_code`` is a raw wait status: the exit code, or minus the killing signal."""
    if status & 0x7F:
        return -(status & 0x7F)
    return (status >> 8) & 0xFF


def exit_code_from_pair(text: str) -> int | None:
    """sacct/jobcomp ``ExitCode`` is ``code:signal``; a signal is reported as minus its number."""
    code, _, signal = text.partition(":")
    try:
        code_i, signal_i = int(code), int(signal or 0)
    except ValueError:
        return None
    return -signal_i if signal_i else code_i


def slurm_filename(path: Path | str) -> str:
    """A path for ``--output``: Slurm's ``%`` patterns escaped, ``{array_index}`` -> ``%a``."""
    text = str(path)
    if "\\" in text:
        # Slurm turns off every pattern in a name holding a backslash, so %% would stay doubled.
        raise JobSpecError(f"log path {text!r}: a backslash is not allowed in a Slurm log path")
    return text.replace("%", "%%").replace(ARRAY_INDEX, "%a")


def shell_word(text: str, array: bool) -> str:
    """``text`` as one shell word. In an array script, each ``{array_index}`` becomes the one
    permitted expansion, ``"$SLURM_ARRAY_TASK_ID"``; everything else stays single-quoted."""
    if not array or ARRAY_INDEX not in text:
        return shlex.quote(text)
    return (
        '"$SLURM_ARRAY_TASK_ID"'.join(
            shlex.quote(part) if part else "" for part in text.split(ARRAY_INDEX)
        )
        or "''"
    )


def array_spec(indices: Sequence[int], max_parallel: int | None = None) -> str:
    """``--array`` value: sorted indices folded into ranges (``0-4,7,9-10``), ``%N`` throttle."""
    ordered = sorted(indices)
    parts: list[str] = []
    start = prev = ordered[0]
    for i in [*ordered[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    text = ",".join(parts)
    if max_parallel is not None:
        if max_parallel < 1:
            raise JobSpecError(f"array max_parallel must be >= 1, got {max_parallel}")
        text += f"%{int(max_parallel)}"
    return text


def parse_jobcomp(text: str) -> dict[str, JobStatus]:
    """Statuses from a ``jobcomp/filetxt`` file, keyed by job id (``<array id>_<index>`` for
    array members). A job requeued several times appears several times: the last line wins."""
    out: dict[str, JobStatus] = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields or "JobState" not in fields:
            continue
        if fields.get("ArrayJobId") and fields.get("ArrayTaskId"):
            job_id = f"{fields['ArrayJobId']}_{fields['ArrayTaskId']}"
        else:
            job_id = fields["JobId"]
        state = slurm_state(fields["JobState"])
        code = exit_code_from_pair(fields.get("ExitCode", ""))
        out[job_id] = _status(job_id, state, code)
    return out


def parse_sacct(text: str) -> dict[str, JobStatus]:
    """Statuses from ``sacct -n -P -X -o JobID,State,ExitCode`` output."""
    out: dict[str, JobStatus] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) < 3 or not SLURM_JOB_ID.fullmatch(parts[0]):
            continue
        state = slurm_state(parts[1])
        code = exit_code_from_pair(parts[2])
        out[parts[0]] = _status(parts[0], state, code)
    return out


def _status(job_id: str, state: JobState, code: int | None, slurm_reason: str = "") -> JobStatus:
    """A status with the exit code only where it is the model's own (COMPLETED, FAILED): for
    jobs Slurm stopped, squeue and the accounting record disagree (signal 15 vs 0), so the
    signal goes into the reason instead."""
    reason = _finished_reason(state, code, slurm_reason)
    model_code = code if state in (JobState.COMPLETED, JobState.FAILED) else None
    return JobStatus(job_id, state, model_code, reason)


def _finished_reason(state: JobState, code: int | None, slurm_reason: str = "") -> str:
    if not state.finished or state == JobState.COMPLETED:
        return ""
    words = [state.value]
    if code is not None and code != 0:
        words.append(f"exit code {code}" if code > 0 else f"killed by signal {-code}")
    if slurm_reason and slurm_reason not in ("None", "(null)"):
        words.append(f"({slurm_reason})")
    return " ".join(words)


class SlurmScheduler(Scheduler):
    """Submit, watch and cancel model jobs on a Slurm cluster.

    ``profile`` holds the campaign's HPC profile (partition, account, qos, default sizes): a
    job's own :class:`Resources` override only the fields they set explicitly. ``sacct_mode``
    says where finished jobs are looked up once ``squeue`` forgot them: ``db`` (``sacct``,
    needs slurmdbd), ``jobcomp`` (the ``JobCompLoc`` file of ``jobcomp/filetxt``), ``none``, or
    ``auto`` (from ``scontrol show config``). ``requeue=False`` submits with ``--no-requeue`` so
    that a node failure or preemption ends the job (NODE_FAIL/PREEMPTED) and the supervisor
    resubmits it from its newest restart, instead of Slurm rerunning it from the start.
    """

    name = "slurm"

    def __init__(
        self,
        run_root: Path,
        profile: Resources | None = None,
        sacct_mode: SacctMode = "auto",
        requeue: bool = False,
        command_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(run_root)
        if sacct_mode not in ("auto", "db", "jobcomp", "none"):
            raise ValueError(f"sacct_mode must be auto, db, jobcomp or none, not {sacct_mode!r}")
        self.profile = profile or Resources()
        self.sacct_mode: SacctMode = sacct_mode
        self.requeue = requeue
        self.command_timeout_s = command_timeout_s
        self.tags_dir = self.run_root / ".slurm" / "tags"
        self._config: dict[str, str] | None = None  # cluster configuration, read once

    # ---- commands -----------------------------------------------------------------------------

    def _run(
        self, argv: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=self.command_timeout_s,
                env=env,
                check=False,
            )
        except FileNotFoundError as exc:
            raise SchedulerError(f"{argv[0]} not found: is Slurm installed here?") from exc
        except subprocess.TimeoutExpired as exc:
            raise SchedulerError(
                f"{argv[0]} did not answer within {self.command_timeout_s} s"
            ) from exc

    def config(self) -> dict[str, str]:
        """``scontrol show config`` as a dict (read once per object)."""
        if self._config is None:
            proc = self._run(["scontrol", "show", "config"])
            if proc.returncode != 0:
                raise SchedulerError(f"scontrol show config failed: {proc.stderr.strip()}")
            cfg = {}
            for line in proc.stdout.splitlines():
                key, sep, value = line.partition("=")
                if sep:
                    cfg[key.strip()] = value.strip()
            self._config = cfg
        return self._config

    def accounting_mode(self) -> Literal["db", "jobcomp", "none"]:
        """Where finished jobs are looked up (resolves ``auto`` from the cluster config)."""
        if self.sacct_mode != "auto":
            return self.sacct_mode
        cfg = self.config()
        if cfg.get("AccountingStorageType", "").endswith("slurmdbd"):
            return "db"
        if cfg.get("JobCompType", "").endswith("filetxt"):
            return "jobcomp"
        return "none"

    # ---- submission ---------------------------------------------------------------------------

    def job_script(self, spec: JobSpec, array: str | None = None) -> str:
        """The batch script for ``spec`` (a validated spec; ``array`` is an ``--array`` value)."""
        # Validated again here: a Resources made with model_construct() skips its checks.
        res = Resources.model_validate(spec.resources.with_defaults(self.profile).model_dump())
        is_array = array is not None
        lines = [
            "#!/bin/bash",
            "# Written by callmip (callmip.scheduler.slurm). Every value below was validated;",
            "# every word of the command and environment is shell-quoted.",
            f"#SBATCH --job-name={spec.name}",
            f"#SBATCH --time={res.walltime_min}",
            f"#SBATCH --nodes={res.nodes}",
            f"#SBATCH --ntasks={res.ntasks}",
            f"#SBATCH --cpus-per-task={res.cpus_per_task}",
            f"#SBATCH --mem={res.mem_mb}M",
        ]
        for option, value in (
            ("partition", res.partition),
            ("account", res.account),
            ("qos", res.qos),
        ):
            if value is not None:
                lines.append(f"#SBATCH --{option}={value}")
        lines.append("#SBATCH --requeue" if self.requeue else "#SBATCH --no-requeue")
        lines.append("#SBATCH --open-mode=append")
        if spec.tag:
            lines.append(f"#SBATCH --comment={spec.tag}")
        if spec.depends_on:
            for dep in spec.depends_on:
                if not SLURM_JOB_ID.fullmatch(dep):
                    raise JobSpecError(f"job {spec.name}: dependency {dep!r} is not a Slurm job id")
            lines.append(f"#SBATCH --dependency=afterok:{':'.join(spec.depends_on)}")
            lines.append("#SBATCH --kill-on-invalid-dep=yes")
        if is_array:
            if not re.fullmatch(r"[0-9,\-]+(%[0-9]+)?", array):
                raise JobSpecError(f"job {spec.name}: bad array specification {array!r}")
            lines.append(f"#SBATCH --array={array}")
        lines.append("")
        for key, value in spec.env.items():
            lines.append(f"export {key}={shell_word(value, is_array)}")
        lines.append(f"cd -- {shell_word(str(spec.workdir), is_array)} || exit 1")
        if spec.tag:
            if is_array:
                marker = shell_word(f"{self.tags_dir / spec.tag}.{ARRAY_INDEX}", True)
                job_id = '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'
            else:
                marker = shlex.quote(str(self.tags_dir / spec.tag))
                job_id = '"$SLURM_JOB_ID"'
            lines.append(f"printf '%s\\n' {job_id} > {marker} 2>/dev/null || :")
        lines.append("exec " + " ".join(shell_word(arg, is_array) for arg in spec.argv))
        return "\n".join(lines) + "\n"

    def _sbatch(self, spec: JobSpec, array: str | None, script_dir: Path, chdir: Path) -> str:
        script = self.job_script(spec, array)
        script_path = script_dir / f"{spec.name}.sbatch"
        atomic.write_text(script_path, script)
        argv = [
            "sbatch",
            "--parsable",
            f"--output={slurm_filename(spec.log_path)}",
            f"--chdir={chdir}",
            str(script_path),
        ]
        env = {k: v for k, v in os.environ.items() if k not in _OVERRIDING_ENV}
        proc = self._run(argv, env)
        if proc.returncode != 0:
            raise SchedulerError(
                f"sbatch refused job {spec.name} ({script_path}): "
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        job_id = proc.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise SchedulerError(f"sbatch gave no job id for {spec.name}: {proc.stdout!r}")
        log.debug("sbatch %s -> job %s", script_path, job_id)
        return job_id

    def _prepare_dirs(self, specs: Sequence[JobSpec], tagged: bool) -> None:
        # Slurm opens the log before the script runs, so its directory must exist already.
        for spec in specs:
            Path(spec.workdir).mkdir(parents=True, exist_ok=True)
            Path(spec.log_path).parent.mkdir(parents=True, exist_ok=True)
        if tagged:
            self.tags_dir.mkdir(parents=True, exist_ok=True)

    def submit(self, spec: JobSpec) -> str:
        spec.validate(self.run_root)
        slurm_filename(spec.log_path)  # refuse unusable log names before writing anything
        self._prepare_dirs([spec], bool(spec.tag))
        workdir = Path(spec.workdir)
        return self._sbatch(spec, None, workdir, workdir)

    def submit_array(
        self, spec: JobSpec, n: int | Sequence[int], max_parallel: int | None = None
    ) -> list[str]:
        """One ``sbatch --array`` for all members; ids are ``<array id>_<index>``."""
        indices = array_indices(n)
        members = [spec.for_index(i) for i in indices]
        for member in members:
            member.validate(self.run_root)
        spec.validate(self.run_root)
        slurm_filename(spec.log_path)
        self._prepare_dirs(members, bool(spec.tag))
        templated = ARRAY_INDEX in str(spec.workdir)
        script_dir = self.run_root / ".slurm" / "scripts" if templated else Path(spec.workdir)
        script_dir.mkdir(parents=True, exist_ok=True)
        chdir = self.run_root if templated else Path(spec.workdir)
        array_id = self._sbatch(spec, array_spec(indices, max_parallel), script_dir, chdir)
        return [f"{array_id}_{i}" for i in indices]

    # ---- status -------------------------------------------------------------------------------

    def _squeue(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        found: dict[str, JobStatus] = {}
        for start in range(0, len(job_ids), _CHUNK):
            chunk = job_ids[start : start + _CHUNK]
            proc = self._run(
                [
                    "squeue",
                    "--noheader",
                    "--states=all",
                    "--array",
                    "--jobs",
                    ",".join(chunk),
                    "--Format",
                    _SQUEUE_FIELDS,
                ]
            )
            if proc.returncode != 0:
                if "Invalid job id" in proc.stderr:
                    continue  # none of this chunk is known to the controller any more
                raise SchedulerError(f"squeue failed: {proc.stderr.strip()}")
            for line in proc.stdout.splitlines():
                parts = line.split("|", 6)
                if len(parts) < 7:
                    continue
                _raw_id, array_id, _task, state_text, code_text, _comment, reason = parts
                state = slurm_state(state_text)
                try:
                    code = exit_code_from_wait_status(int(code_text))
                except ValueError:
                    code = None
                # Key by the id we handed out (``123`` or ``123_4``); the raw id of an array
                # member is an internal number we never give to callers.
                found[array_id] = _status(array_id, state, code, reason.strip())
        return found

    def _sacct(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        found: dict[str, JobStatus] = {}
        for start in range(0, len(job_ids), _CHUNK):
            chunk = job_ids[start : start + _CHUNK]
            proc = self._run(
                [
                    "sacct",
                    "--noheader",
                    "--parsable2",
                    "--allocations",
                    "--jobs",
                    ",".join(chunk),
                    "--format",
                    "JobID,State,ExitCode",
                ]
            )
            if proc.returncode != 0:
                raise SchedulerError(f"sacct failed: {proc.stderr.strip()}")
            found.update(parse_sacct(proc.stdout))
        return found

    def _jobcomp(self) -> dict[str, JobStatus]:
        location = self.config().get("JobCompLoc", "")
        path = Path(location)
        if not location or not path.is_file():
            log.warning("jobcomp file %r not readable here; finished jobs look unknown", location)
            return {}
        return parse_jobcomp(path.read_text(errors="replace"))

    def accounting(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """Finished jobs as Slurm's accounting records them (one lookup for all ids); ids it
        does not know are left out. What ``poll`` uses once ``squeue`` forgot a job."""
        mode = self.accounting_mode()
        if mode == "db":
            return self._sacct(job_ids)
        if mode == "jobcomp":
            record = self._jobcomp()
            return {i: record[i] for i in job_ids if i in record}
        return {}

    def poll(self, job_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One ``squeue`` for all ids, then one accounting lookup for those it no longer knows."""
        ids = list(dict.fromkeys(job_ids))
        valid = [i for i in ids if SLURM_JOB_ID.fullmatch(i)]
        found = self._squeue(valid) if valid else {}
        missing = [i for i in valid if i not in found]
        if missing:
            found.update(self.accounting(missing))
        out: dict[str, JobStatus] = {}
        for job_id in ids:
            if job_id in found:
                out[job_id] = found[job_id]
            elif SLURM_JOB_ID.fullmatch(job_id):
                out[job_id] = JobStatus(job_id, JobState.UNKNOWN, reason="not known to Slurm")
            else:
                out[job_id] = JobStatus(job_id, JobState.UNKNOWN, reason="not a Slurm job id")
        return out

    def find_tagged(self, tags: Sequence[str]) -> dict[str, dict[int | None, str]]:
        """Jobs carrying these tags: in ``squeue`` (their ``--comment``), or, once Slurm forgot
        them, from the marker each script writes when it starts."""
        wanted = set(tags)
        found: dict[str, dict[int | None, str]] = {}
        if not wanted:
            return found
        proc = self._run(
            [
                "squeue",
                "--noheader",
                "--states=all",
                "--array",
                "--user",
                str(os.getuid()),
                "--Format",
                _SQUEUE_FIELDS,
            ]
        )
        if proc.returncode != 0:
            raise SchedulerError(f"squeue failed: {proc.stderr.strip()}")
        for line in proc.stdout.splitlines():
            parts = line.split("|", 6)
            if len(parts) < 7 or parts[5] not in wanted:
                continue
            array_id, task = parts[1], parts[2]
            index = int(task) if task.isdigit() else None
            found.setdefault(parts[5], {})[index] = array_id
        for tag in wanted:
            for marker in self.tags_dir.glob(f"{tag}*"):
                rest = marker.name[len(tag) :]
                if rest and not (rest.startswith(".") and rest[1:].isdigit()):
                    continue
                job_id = marker.read_text().strip()
                if SLURM_JOB_ID.fullmatch(job_id):
                    index = int(rest[1:]) if rest else None
                    found.setdefault(tag, {}).setdefault(index, job_id)
        return found

    def cancel(self, job_id: str) -> None:
        if not SLURM_JOB_ID.fullmatch(job_id):
            raise ValueError(f"not a Slurm job id: {job_id!r}")
        proc = self._run(["scancel", job_id])
        if proc.returncode != 0:
            err = proc.stderr.strip()
            if "already completing or completed" in err or "Invalid job id" in err:
                log.debug("scancel %s: %s", job_id, err)
                return
            raise SchedulerError(f"scancel {job_id} failed: {err}")
