"""The Gradescope upload zip: what goes in, what stays out, and the check
that grades the reference with the unpacked code."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import bundle, cli
from autograder.errors import GraderError

ROOT = Path(__file__).resolve().parent.parent


def fake_tree(root: Path) -> Path:
    files = [
        "setup.sh",
        "run_autograder",
        "requirements.txt",
        "requirements-dev.txt",
        "README.md",
        "autograder/__init__.py",
        "autograder/__pycache__/cli.cpython-312.pyc",
        "autograder/worker/main.py",
        "autograder/stray.pyc",
        "specs/grader.yaml",
        "solutions/attention.py",
        "data/camera-256.png",
        "tests/test_x.py",
        "submissions/reference/attention.py",
        "benchmarks/b.py",
        ".git/HEAD",
        ".ruff_cache/x",
    ]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    return root


def test_members_are_what_grading_needs_and_nothing_else(tmp_path):
    assert bundle.members(fake_tree(tmp_path)) == [
        "autograder/__init__.py",
        "autograder/worker/main.py",
        "data/camera-256.png",
        "requirements-dev.txt",
        "requirements.txt",
        "run_autograder",
        "setup.sh",
        "solutions/attention.py",
        "specs/grader.yaml",
    ]


def test_a_missing_script_is_refused(tmp_path):
    fake_tree(tmp_path)
    (tmp_path / "run_autograder").unlink()
    with pytest.raises(GraderError, match="run_autograder is missing"):
        bundle.members(tmp_path)


def test_the_zip_is_reproducible_with_executable_scripts(tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    names = bundle.build(first)
    bundle.build(second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == names
        modes = {
            i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()
        }
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert modes["autograder/cli.py"] == 0o644
    assert bundle.refusals(names) == []
    assert {"specs/grader.yaml", "autograder/worker/main.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "submissions/"))]


def test_refusals_name_what_must_not_be_shipped():
    assert bundle.refusals(
        ["setup.sh", "tests/test_a.py", "autograder/__pycache__/a.pyc", "x.swp"]
    ) == [
        "run_autograder is not at the root of the zip",
        "tests/test_a.py must not be in the zip",
        "autograder/__pycache__/a.pyc must not be in the zip",
        "x.swp is a cache or editor file",
    ]


def test_zip_command_builds_and_grades_the_reference_in_the_unpacked_tree(
    tmp_path, capsys
):
    target = tmp_path / "autograder.zip"
    assert cli.main(["zip", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {target}" in out
    assert "verified:" in out and "when graded by the unpacked zip" in out


def test_verification_fails_when_the_reference_falls_short(tmp_path):
    target = tmp_path / "autograder.zip"
    bundle.build(target)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "attention.py").write_text(
        (ROOT / "solutions" / "attention.py").read_text()
    )
    with pytest.raises(GraderError, match="did not get full marks") as caught:
        bundle.verify(target, partial)
    short = str(caught.value).split("unpacked tree: ", 1)[1]
    assert "(0 of " in short
    assert "3.1.1 " not in short  # the attention part did get its points


def test_grading_imports_no_staff_only_package():
    """Gradescope installs requirements.txt only: the command line must load
    without tqdm and Dask, which only regrade and regress use."""
    probe = (
        "import sys, autograder.cli; "
        "print(sorted(m for m in ('tqdm', 'dask', 'distributed') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]", done.stderr
