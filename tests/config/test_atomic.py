"""callmip.atomic, the one atomic-write helper: a failed write leaves the old file and no
temporary; a reader never sees a half-written file."""

import json
import stat

import pytest

from callmip import atomic


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out" / "a.json"
    atomic.write_json(path, {"v": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(path) as tmp:
        tmp.write_text('{"v": 2, "trunc')
        raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"v": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


def test_temporary_is_beside_the_target_and_matches_the_stale_pattern(tmp_path):
    path = tmp_path / "met_1902.nc"
    with atomic.atomic_path(path) as tmp:
        assert tmp.parent == path.parent and not tmp.exists()
        tmp.write_bytes(b"x")
        assert atomic.remove_stale_temporaries(tmp_path, "met_1902") == 1
        tmp.write_bytes(b"y")
    assert path.read_bytes() == b"y"


def test_mode_is_set_before_the_rename(tmp_path):
    path = atomic.write_text(tmp_path / "launch.sh", "#!/bin/sh\n", mode=0o755)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
