"""The warm-up creates the Prefect database where the campaign's temporary server keeps it."""

import sqlite3

import pytest

from flows.warmup import _prefect_database


def test_prefect_database_is_created_and_migrated_under_prefect_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    _prefect_database()
    with sqlite3.connect(tmp_path / "prefect.db") as db:
        tables = {r[0] for r in db.execute("select name from sqlite_master where type='table'")}
    assert {"flow", "flow_run", "alembic_version"} <= tables
    _prefect_database()  # idempotent


def test_a_failing_upgrade_is_an_error_naming_the_home(tmp_path, monkeypatch):
    home = tmp_path / "not-a-dir"
    home.write_text("a file where PREFECT_HOME should be")
    monkeypatch.setenv("PREFECT_HOME", str(home))
    with pytest.raises(RuntimeError, match="not-a-dir"):
        _prefect_database()
