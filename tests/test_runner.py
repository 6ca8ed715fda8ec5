"""Whole runs: the reference gets full marks, the starter gets 0 without a
grader error, grading is deterministic, and a valid results.json is written
whatever breaks."""

from __future__ import annotations

import json
import zipfile

import pytest

from autograder import checks, results, runner
from autograder.checks import Verdict
from autograder.errors import SpecError
from conftest import ROOT, by_number


@pytest.fixture(scope="module")
def reference_results(tmp_path_factory):
    target = tmp_path_factory.mktemp("reference") / "results.json"
    return runner.grade(ROOT / "submissions" / "reference", target)


def test_reference_gets_full_marks(reference_results):
    for test in reference_results["tests"]:
        assert test["score"] == test["max_score"], (test["number"], test["output"])
        assert test["status"] == "passed"
    total = sum(t["max_score"] for t in reference_results["tests"])
    assert reference_results["score"] == total > 0


def test_starter_gets_zero_without_grader_errors(tmp_path):
    document = runner.grade(ROOT / "submissions" / "starter", tmp_path / "r.json")
    for test in document["tests"]:
        assert test["score"] == 0, (test["number"], test["output"])
        assert "grader-error" not in test["tags"], (test["number"], test["output"])
    assert document["score"] == 0


def test_every_test_carries_the_full_format(reference_results):
    numbers = [t["number"] for t in reference_results["tests"]]
    assert len(numbers) == len(set(numbers))
    for test in reference_results["tests"]:
        assert test["output_format"] == "text"
        assert test["visibility"] in ("visible", "hidden", "after_due_date")


def test_grading_twice_gives_identical_tests(tmp_path):
    submission = ROOT / "submissions" / "reference"
    first = runner.grade(submission, tmp_path / "a.json", only=["attention"])
    second = runner.grade(submission, tmp_path / "b.json", only=["attention"])
    assert first["tests"] == second["tests"]


def test_a_zip_with_a_top_folder_is_graded_like_the_folder(tmp_path):
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        source = ROOT / "submissions" / "reference" / "attention.py"
        bundle.write(source, "hw/attention.py")
    document = runner.grade(archive, tmp_path / "r.json", only=["attention"])
    assert document["score"] == sum(t["max_score"] for t in document["tests"]) > 0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "absent", "does not exist"),
        (lambda p: _write(p / "x.txt", "hi"), "is neither a folder nor a .zip file"),
        (lambda p: _write(p / "bad.zip", "not a zip"), "is not a valid zip file"),
    ],
)
def test_an_unreadable_submission_fails_every_test_with_the_reason(
    tmp_path, make, message
):
    document = runner.grade(make(tmp_path), tmp_path / "r.json", only=["attention"])
    assert document["score"] == 0
    assert all(message in t["output"] for t in document["tests"])
    assert message in document["output"]


def _write(path, text):
    path.write_text(text)
    return path


def test_symlinks_in_a_submission_are_dropped(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "attention.py").symlink_to(ROOT / "solutions" / "attention.py")
    document = runner.grade(folder, tmp_path / "r.json", only=["attention"])
    assert document["score"] == 0
    assert "attention.py is a symbolic link and was ignored" in document["output"]
    assert "attention.py was not found" in document["tests"][0]["output"]


def test_a_spec_error_still_writes_results_and_is_raised(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "grader.yaml").write_text("worker_user: w\nthreads: 1\n")
    target = tmp_path / "r.json"
    with pytest.raises(SpecError, match="missing required key"):
        runner.grade(ROOT / "submissions" / "reference", target, specs)
    document = json.loads(target.read_text())
    assert document["tests"][0]["tags"] == ["grader-error"]
    assert "For staff: spec error" in document["output"]
    assert results.GRADER_FAULT_TEXT in document["tests"][0]["output"]


@checks.check("attention.broken_check")
def _broken_check(ctx) -> Verdict:
    return {}["missing"]


def test_a_fault_in_a_check_is_the_graders_and_says_so(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "grader.yaml").write_text((ROOT / "specs" / "grader.yaml").read_text())
    (specs / "attention.yaml").write_text(
        "part: attention\ntitle: t\nfile: attention.py\ntests:\n"
        "  - {id: broken_check, number: '3.1.1', name: broken, points: 1}\n"
    )
    document = runner.grade(
        ROOT / "submissions" / "reference", tmp_path / "r.json", specs
    )
    test = by_number(document)["3.1.1"]
    assert test["tags"] == ["grader-error"]
    assert test["output"].startswith(results.GRADER_FAULT_TEXT)
    assert "KeyError" not in test["output"]


def test_cli_prints_a_table_and_writes_results(tmp_path, capsys):
    from autograder import cli

    target = tmp_path / "r.json"
    code = cli.main(
        [
            "grade",
            str(ROOT / "submissions" / "reference"),
            "--results",
            str(target),
            "--part",
            "attention",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "3.1" in printed and "total" in printed
    assert json.loads(target.read_text())["score"] > 0


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [
        (["grade", "sub"], False),
        (["-v", "grade", "sub"], True),
        (["grade", "-v", "sub"], True),
        (["regress", "--verbose"], True),
    ],
)
def test_verbose_is_taken_before_or_after_the_command(argv, verbose):
    from autograder import cli

    assert cli.build_parser().parse_args(argv).verbose is verbose
