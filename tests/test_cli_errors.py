"""How the command line reports errors: one clear line for a known user error, its exit code,
the traceback in the run's log file (or on the terminal with -v); tracebacks for bugs."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from callmip_app import cli
from callmip_app.cli_errors import ERROR_KINDS, EXIT_UNEXPECTED, HideKnownErrorTracebacks, classify

REPO = Path(__file__).resolve().parents[1]


def test_every_listed_class_exists_and_codes_are_distinct():
    """A renamed or moved class must not silently fall out of the table."""
    for kind in ERROR_KINDS:
        for name in kind.classes:
            module, qualname = name.split(":")
            cls = getattr(importlib.import_module(module), qualname)
            assert isinstance(cls, type) and issubclass(cls, Exception), name
            assert classify(cls.__new__(cls)) is kind
    codes = [k.code for k in ERROR_KINDS]
    assert len(set(codes)) == len(codes) and EXIT_UNEXPECTED not in codes and 0 not in codes


def test_subclass_is_its_base_kind_and_bugs_are_unknown():
    from forcing.errors import ForcingError

    class NarrowForcingError(ForcingError):
        pass

    assert classify(NarrowForcingError("f.nc", "tmp", "bad")).name == "forcing"
    assert classify(KeyError("x")) is None and classify(ValueError("x")) is None


def _record(exc: BaseException | None, name="prefect.flow_runs", msg="Encountered exception"):
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, (), exc_info)


def test_filter_hides_known_error_records_only():
    from forcing.errors import ForcingError

    f = HideKnownErrorTracebacks()
    assert not f.filter(_record(ForcingError("f.nc", "tmp", "truncated")))
    assert not f.filter(_record(None, msg="Finished in state Failed('ForcingError: f.nc ...')"))
    assert f.filter(_record(RuntimeError("bug")))
    assert f.filter(_record(None, msg="Finished in state Failed('ZeroDivisionError')"))
    assert f.filter(_record(None, name="callmip", msg="something about ForcingError"))


def _raising(exc: Exception):
    def func(args):
        raise exc

    return func


@pytest.mark.parametrize("verbose", [False, True])
def test_known_error_is_one_line_with_its_exit_code(monkeypatch, capsys, verbose):
    from forcing.errors import ForcingError

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(cli, "cmd_validate", None)
    exc = ForcingError("/data/crujra.v2.5.5d.tmp.1901.365d.noc.nc", "tmp", "truncated")
    parser._subparsers._group_actions[0].choices["validate"].set_defaults(func=_raising(exc))
    code = cli.main([*(["-v"] if verbose else []), "validate", "x.yaml"])
    err = capsys.readouterr().err
    assert code == 3
    assert "error: /data/crujra.v2.5.5d.tmp.1901.365d.noc.nc: variable 'tmp': truncated" in err
    assert ("Traceback" in err) is verbose


def test_unexpected_error_keeps_its_traceback(monkeypatch, capsys):
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["validate"].set_defaults(
        func=_raising(ZeroDivisionError("a bug")))
    assert cli.main(["validate", "x.yaml"]) == EXIT_UNEXPECTED
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err


@pytest.mark.slow
def test_campaign_with_truncated_forcing_prints_one_clear_message(tmp_path):
    """Through the real CLI and Prefect: exit 3, one message naming file, variable and problem,
    no traceback on the terminal, the traceback in the run's log file, nothing model-ready."""
    import yaml

    from forcing.synthetic import write_crujra_years

    crujra = tmp_path / "crujra"
    paths = write_crujra_years(crujra, [1901], res_deg=2.0, seed=3, workers=1)
    bad = next(p for p in paths if ".tmp." in p.name)
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    campaign = tmp_path / "trunc.yaml"
    campaign.write_text(yaml.safe_dump({
        "name": "trunc", "resolution": 2,
        "forcing": {"source": "crujra", "crujra_dir": str(crujra), "source_resolution": 2},
        "periods": {"spinup_cycle": [1901, 1901], "transient_start": 1900,
                    "historical": [1901, 1901]},
        "models": [{"name": "CELM-A", "version": "v1", "driver": "celm"}],
        "experiments": ["prior"], "simulations": ["S3"],
        "scheduler": {"backend": "local"}, "run_root": str(tmp_path / "runs")}))
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    proc = subprocess.run([sys.executable, "-m", "callmip_app.cli", "run", str(campaign)],
                          capture_output=True, text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert str(bad) in errors[0] and "variable 'tmp'" in errors[0] and "truncated" in errors[0]
    log_file = tmp_path / "runs" / "trunc" / "campaign.log"
    assert str(log_file) in proc.stderr
    text = log_file.read_text()
    assert "Traceback (most recent call last)" in text and "ForcingError" in text
    assert not list((tmp_path / "runs" / "trunc" / "forcing").rglob("*.nc"))
