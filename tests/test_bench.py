"""The benchmark's in-process session grades like the sandboxed worker: the
same scores and feedback for one part, so that the cost of isolation it
measures compares like with like."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from autograder import runner, spec

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "submissions"


@pytest.fixture(scope="module")
def bench():
    path = ROOT / "benchmarks" / "bench.py"
    loaded = importlib.util.spec_from_file_location("dlag_bench", path)
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def feedback(document: dict) -> dict[str, tuple[float, str, str]]:
    return {
        test["number"]: (test["score"], test["status"], test["output"])
        for test in document["tests"]
    }


@pytest.mark.parametrize(
    "sample", ["reference", "copy-query-ignores-norm", "broken-syntax"]
)
def test_direct_session_grades_as_the_worker_does(bench, sample):
    boxed, _, _ = bench.grade_in_process(SAMPLES / sample, False, ["attention"])
    direct, _, _ = bench.grade_in_process(SAMPLES / sample, True, ["attention"])
    assert feedback(direct) == feedback(boxed)
    assert not bench.grader_faults(direct)
    part = runner._only(spec.load(runner.SPECS), ["attention"]).parts[0]
    full = sum(test.points for test in part.tests)
    assert (direct["score"] == full) == (sample == "reference")


def test_direct_session_forgets_the_student_module(bench):
    _, timings, _ = bench.grade_in_process(SAMPLES / "reference", True, ["attention"])
    assert set(timings) == {"attention"}
    assert "attention" not in sys.modules
    run_folders = [p for p in sys.path if p.endswith(("/submission", "/provided"))]
    assert not run_folders
