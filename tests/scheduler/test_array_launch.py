"""The job-array member launcher: member N's own command, in its own directory, no shell."""

import subprocess
import sys

from callmip.scheduler.array_launch import write_member


def test_member_runs_its_own_command_in_its_own_directory(tmp_path):
    for i in range(3):
        work = tmp_path / f"run{i}"
        work.mkdir()
        write_member(tmp_path / "array", i, [sys.executable, "-c",
                                             f"import os; print(os.getcwd(), {i} * 7)"], work)
    out = subprocess.run([sys.executable, "-m", "callmip.scheduler.array_launch",
                          str(tmp_path / "array"), "2"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(tmp_path / "run2"), "14"]
    # a ';' or '$(...)' in an argument is data for the model, never shell syntax
    write_member(tmp_path / "array", 3, [sys.executable, "-c", "import sys; print(sys.argv[1])",
                                         "x; touch pwned $(id)"], tmp_path)
    out = subprocess.run([sys.executable, "-m", "callmip.scheduler.array_launch",
                          str(tmp_path / "array"), "3"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "x; touch pwned $(id)"
    assert not (tmp_path / "pwned").exists()


def test_missing_member_file_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "callmip.scheduler.array_launch",
                          str(tmp_path), "5"], capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert "member_5.json" in out.stderr and "missing or invalid" in out.stderr
