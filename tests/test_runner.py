"""Whole runs: the reference gets full marks, the starter gets 0 without a
grader error, grading is deterministic, and a valid results.json is written
whatever breaks."""

from __future__ import annotations

import json
import logging
import os
import shutil
import zipfile

import pytest

from autograder import checks, results, runner, sandbox, spec
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


class FakeSession:
    """What ``Grading._switch_to`` sees of a part's session."""

    def __init__(self, name: str, runs_code: bool, events: list):
        self.name = name
        self.runs_code = runs_code
        self.events = events
        self.worker = type("FakeWorker", (), {"plan": None})()

    def close(self) -> None:
        self.events.append(("close", self.name))

    def launch_ahead(self, plan) -> None:
        self.worker.plan = plan
        self.events.append(("launch", self.name, plan))


def fake_grading(names: list[str], code: set[str], ahead: str | None):
    """A Grading of parts ``names`` (those in ``code`` run code) with fake
    sessions; plans are the strings "first" and ``ahead``."""
    events: list = []
    parts = tuple(
        spec.PartSpec(part=name, title=name, file=f"{name}.py", tests=(), limits=None)
        for name in names
    )
    grader = spec.GraderSpec("w", 1, None, 600.0, "visible", "hidden", parts)

    class Faked(runner.Grading):
        def session(self, part):
            session = FakeSession(part.part, part.part in code, events)
            session.worker.plan = self.plan
            return session

    return Faked(grader, None, "first", None, ahead), parts, events


def test_each_part_closes_the_others_and_launches_the_next_as_the_other_user():
    grading, parts, events = fake_grading(
        ["answers", "a", "b", "missing", "c"], {"a", "b", "c"}, ahead="second"
    )
    answers, a, b, missing, c = parts
    grading._switch_to(answers)
    assert events == [
        ("close", "b"),
        ("close", "missing"),
        ("close", "c"),
        ("launch", "a", "second"),
    ]
    events.clear()
    grading._switch_to(a)
    assert events == [
        ("close", "answers"),
        ("close", "missing"),
        ("close", "c"),
        ("launch", "b", "first"),
    ]
    events.clear()
    grading._switch_to(b)  # "missing" has no file: "c" comes next
    assert events == [
        ("close", "answers"),
        ("close", "a"),
        ("close", "missing"),
        ("launch", "c", "second"),
    ]
    events.clear()
    grading._switch_to(c)
    assert events == [
        ("close", "answers"),
        ("close", "a"),
        ("close", "b"),
        ("close", "missing"),
    ]


def test_without_a_second_plan_one_worker_runs_at_a_time():
    grading, parts, events = fake_grading(["a", "b"], {"a", "b"}, ahead=None)
    grading._switch_to(parts[0])
    assert events == [("close", "b")]


def test_a_session_launched_ahead_runs_as_the_second_user(tmp_path):
    # Two parts that print, at import, the user they run as: as root,
    # consecutive parts run as two users; without launching ahead (by the
    # spec, or with fewer than two CPUs), as one.
    printing = "import os\nprint('uid', os.getuid())\n"
    folder = tmp_path / "submission"
    folder.mkdir()
    for name in ("attention", "bptt"):
        source = (ROOT / "submissions" / "reference" / f"{name}.py").read_text()
        (folder / f"{name}.py").write_text(printing + source, encoding="utf-8")

    def users(launch_ahead: bool, cpus=None) -> tuple[dict, list[str]]:
        specs = tmp_path / f"specs-{launch_ahead}-{cpus}"
        specs.mkdir()
        for name in ("attention", "bptt"):
            shutil.copy2(runner.SPECS / f"{name}.yaml", specs)
        grader = (runner.SPECS / "grader.yaml").read_text(encoding="utf-8")
        setting = f"launch_ahead: {str(launch_ahead).lower()}"
        grader = grader.replace("launch_ahead: true", setting)
        (specs / "grader.yaml").write_text(grader, encoding="utf-8")
        document = runner.grade(folder, tmp_path / "r.json", specs, cpus=cpus)
        found = [
            line
            for test in document["tests"]
            for line in test["output"].splitlines()
            if line.startswith("uid ")
        ]
        return {t["number"]: t["score"] for t in document["tests"]}, found

    one_scores, one_users = users(False)
    two_scores, two_users = users(True)
    short_scores, short_users = users(True, cpus=1.0)
    assert one_scores == two_scores == short_scores
    assert sum(one_scores.values()) == sum(
        t.points
        for name in ("attention", "bptt")
        for t in spec.load_part(runner.SPECS / f"{name}.yaml", sandbox.Limits()).tests
    )
    assert len(one_users) == len(two_users) == len(short_users) == 2
    assert one_users[0] == one_users[1]
    assert short_users[0] == short_users[1]
    if os.geteuid() != 0:
        assert two_users[0] == two_users[1]
    elif sandbox.cpus_available() >= 2:
        assert two_users[0] != two_users[1]
        assert "uid 0" not in two_users


@pytest.mark.skipif(os.geteuid() != 0, reason="worker users exist only as root")
def test_without_a_second_worker_user_the_run_grades_one_worker_at_a_time(
    tmp_path, monkeypatch, caplog
):
    from autograder import accounts
    from autograder.errors import GraderError

    real = accounts.ensure_user
    made = []

    def only_one(name):
        if made:
            raise GraderError(f"could not create the worker user {name!r}")
        made.append(name)
        return real(name)

    monkeypatch.setattr(accounts, "ensure_user", only_one)
    with caplog.at_level(logging.INFO, logger="autograder.runner"):
        document = runner.grade(
            ROOT / "submissions" / "reference",
            tmp_path / "r.json",
            only=["attention", "bptt"],
            cpus=2.0,
        )
    assert document["score"] == sum(t["max_score"] for t in document["tests"]) > 0
    assert len(made) == 1
    assert any(
        m.startswith("workers are started one at a time: could not create")
        for m in caplog.messages
    )
