"""Grading in processes of their own: packing, outcomes of a grade that
crashes or hangs, and the worker user slots that keep concurrent runs apart."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

from autograder import batch

ROOT = Path(__file__).resolve().parent.parent


def test_pack_zips_a_folder_without_its_links(tmp_path):
    folder = tmp_path / "sub"
    (folder / "inner").mkdir(parents=True)
    (folder / "a.py").write_text("a")
    (folder / "inner" / "b.py").write_text("b")
    (folder / "secret.py").symlink_to(ROOT / "solutions" / "attention.py")
    (folder / "tree").symlink_to(ROOT / "solutions")
    archive = zipfile.ZipFile(io.BytesIO(batch.pack(folder)))
    assert sorted(archive.namelist()) == ["a.py", "inner/b.py"]
    assert archive.read("inner/b.py") == b"b"


def test_pack_keeps_a_zip_as_it_is(tmp_path):
    path = tmp_path / "s.zip"
    path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert batch.pack(path) == path.read_bytes()


def fake_grader(monkeypatch, code: str) -> None:
    """Make every grade run ``code`` instead of the grader."""
    monkeypatch.setattr(
        batch, "grade_command", lambda *args: [sys.executable, "-c", code]
    )


def test_a_grader_that_exits_without_results_is_a_crash(tmp_path, monkeypatch):
    fake_grader(monkeypatch, "import sys; print('Traceback: boom'); sys.exit(1)")
    settings = batch.Settings(specs=str(ROOT / "specs"), timeout=60)
    outcome = batch.grade(batch.Job("s", path=str(tmp_path)), settings)
    assert (outcome.status, outcome.document) == (batch.CRASHED, None)
    assert outcome.message == "the grader exited with 1: Traceback: boom"


def test_a_grader_that_hangs_is_stopped(tmp_path, monkeypatch):
    fake_grader(
        monkeypatch, "import time; print('started', flush=True); time.sleep(600)"
    )
    settings = batch.Settings(specs=str(ROOT / "specs"), timeout=1)
    outcome = batch.grade(batch.Job("s", path=str(tmp_path)), settings)
    assert (outcome.status, outcome.document) == (batch.TIMEOUT, None)
    assert outcome.message.startswith(
        "grading was stopped: it did not finish within 1 s"
    )
    assert "started" in outcome.message


def test_grade_all_keeps_the_order_of_the_jobs(tmp_path, monkeypatch):
    fake_grader(monkeypatch, "raise SystemExit(5)")
    jobs = [batch.Job(name, path=str(tmp_path)) for name in "dcba"]
    settings = batch.Settings(specs=str(ROOT / "specs"), timeout=60)
    outcomes = batch.grade_all(jobs, settings, workers=3)
    assert [o.name for o in outcomes] == ["d", "c", "b", "a"]
    assert {o.status for o in outcomes} == {batch.CRASHED}


def test_the_grade_command_passes_the_cpu_share_when_there_is_one():
    paths = (Path("s"), Path("r.json"), Path("specs"), ("attention",))
    assert batch.grade_command(*paths)[-2:] == ["--part", "attention"]
    assert batch.grade_command(*paths, 0.5)[-2:] == ["--cpus", "0.5"]


def test_grades_run_at_once_share_the_cpus(tmp_path, monkeypatch):
    shares = []

    def recorded(source, results, specs, parts, cpus=None):
        shares.append(cpus)
        return [sys.executable, "-c", "raise SystemExit(5)"]

    monkeypatch.setattr(batch, "grade_command", recorded)
    monkeypatch.setattr(batch, "cpus_available", lambda: 8.0)
    jobs = [batch.Job(name, path=str(tmp_path)) for name in "abc"]
    settings = batch.Settings(specs=str(ROOT / "specs"), timeout=60)
    batch.grade_all(jobs, settings, workers=4)
    assert shares == [8 / 3] * 3  # three jobs: three at once
    shares.clear()
    batch.grade_all(jobs * 2, settings, workers=4)
    assert shares == [2.0] * 6
    shares.clear()
    given = batch.Settings(specs=str(ROOT / "specs"), timeout=60, cpus=1.0)
    batch.grade_all(jobs, given, workers=1)
    assert shares == [1.0] * 3


def test_on_a_dask_worker_a_grade_gets_its_threads_share(dask_cluster):
    import distributed

    assert batch.cluster_share() is None
    with distributed.Client(dask_cluster) as client:
        share = client.submit(batch.cluster_share, pure=False).result()
    assert share == batch.cpus_available() / 2
