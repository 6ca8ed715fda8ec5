"""Shared fixtures: every results.json written during the tests is checked
against the shipped JSON Schema of Gradescope's format."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

from autograder import results, runner

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def schema_checked_results(monkeypatch):
    """Validate every document the grader writes, before it is written."""
    validator = jsonschema.Draft202012Validator(results.load_schema())
    original = results.write

    def checked_write(document, path):
        validator.validate(json.loads(json.dumps(document)))
        original(document, path)

    monkeypatch.setattr(results, "write", checked_write)


@pytest.fixture
def grade(tmp_path):
    """Grade a submission given as {file name: text}; return results.json."""

    def run(files: dict[str, str], parts=None, specs: Path | None = None) -> dict:
        folder = tmp_path / "submission"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
        target = tmp_path / "results.json"
        runner.grade(folder, target, specs or runner.SPECS, parts)
        return json.loads(target.read_text(encoding="utf-8"))

    return run


@pytest.fixture
def dask_cluster():
    """A Dask cluster in this process, one worker of two threads, reached
    over TCP on loopback only."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        yield cluster


def by_number(document: dict) -> dict[str, dict]:
    return {test["number"]: test for test in document["tests"]}
