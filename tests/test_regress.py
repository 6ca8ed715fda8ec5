"""The regression check: reading expected.yaml, comparing a grade with it,
and the ``regress`` command on small samples graded for part 3 only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from autograder import batch, cli, regress
from autograder.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
NAIVE_ATTENTION = """\
import torch

def attention_weights(q, K):
    e = torch.exp(K @ q)
    return e / e.sum()

def attention(q, K, V):
    return attention_weights(q, K) @ V
"""


def attention_specs(folder: Path) -> Path:
    """A specs folder with the repository's grader settings and only the
    tests of question 3.1 (6 points)."""
    folder.mkdir()
    grader = yaml.safe_load((ROOT / "specs" / "grader.yaml").read_text())
    grader["parts"] = ["attention"]
    (folder / "grader.yaml").write_text(yaml.safe_dump(grader))
    part = yaml.safe_load((ROOT / "specs" / "attention.yaml").read_text())
    part["tests"] = [t for t in part["tests"] if t["number"].startswith("3.1.")]
    (folder / "attention.yaml").write_text(yaml.safe_dump(part, sort_keys=False))
    return folder


def write_expected(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "expected.yaml"
    path.write_text(text)
    return path


def test_expected_yaml_is_read_in_full(tmp_path):
    path = write_expected(
        tmp_path,
        'description: a hat\nquestions:\n  "1.4": 0\n  "3.1": 6\nothers: any\n'
        'tests:\n  "1.4.1":\n    status: failed\n    feedback: "f(0) = 3"\n'
        '  "3.1.2": {status: passed}\nmax_seconds: 120\n',
    )
    expected = regress.load_expected(path)
    assert expected.description == "a hat"
    assert expected.questions == {"1.4": 0, "3.1": 6}
    assert expected.others == "any"
    assert expected.tests == {
        "1.4.1": regress.TestExpectation("failed", "f(0) = 3"),
        "3.1.2": regress.TestExpectation("passed", None),
    }
    assert expected.max_seconds == 120


def test_expected_yaml_defaults_to_others_zero(tmp_path):
    expected = regress.load_expected(write_expected(tmp_path, "description: x\n"))
    assert (expected.others, expected.questions, expected.tests) == ("zero", {}, {})
    assert expected.max_seconds is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("other: zero\n", "line 1: unknown key 'other' in expected.yaml"),
        ("description: x\nothers: some\n", "line 2: others must be one of zero, full"),
        ("questions:\n  1.4: 0\n", "line 2: the key 1.4 must be a quoted question"),
        ('questions:\n  "1.4.1": 0\n', "line 2: the key '1.4.1' must be a quoted"),
        ('questions:\n  "1.4": -1\n', "line 2: questions.1.4 must be a number >= 0"),
        ('questions:\n  "1.4": "six"\n', "questions.1.4 must be a number >= 0"),
        ('questions:\n  "1.4": 0\n  "1.4": 1\n', "line 3: questions: '1.4' appears"),
        ("questions: [1.4]\n", "line 1: expected.yaml.questions must be a mapping"),
        ('tests:\n  "1.4.1": {status: ok}\n', "tests.1.4.1.status must be one of"),
        ('tests:\n  "1.4.1": {feedbak: x}\n', "unknown key 'feedbak' in tests.1.4.1"),
        ('tests:\n  "1.4.1": {}\n', "line 2: tests.1.4.1 gives no status or feedback"),
        ("tests:\n  x: {status: passed}\n", "the key 'x' must be a quoted test number"),
        ("max_seconds: 0\n", "line 1: expected.yaml.max_seconds must be a number > 0"),
        ("questions: {\n", "is not valid YAML"),
    ],
)
def test_malformed_expected_yaml_names_file_and_key(tmp_path, text, message):
    path = write_expected(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        regress.load_expected(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def entry(number, score, max_score, output="", tags=()):
    return {
        "number": number,
        "score": score,
        "max_score": max_score,
        "status": "passed" if score >= max_score else "failed",
        "output": output,
        "tags": list(tags),
    }


DOCUMENT = {
    "score": 5.0,
    "execution_time": 12.5,
    "tests": [
        entry("1.1", 1, 1),
        entry("1.4.1", 0, 1, "hat_net: f(0) = 3, expected 0"),
        entry("1.4.2", 1, 1),
        entry("3.1.1", 2, 2),
        entry("3.1.2", 0, 2, "attention_weights: not finite"),
        entry("3.1.3", 1, 2),
    ],
}


def rows_of(text, tmp_path, document=DOCUMENT, status=batch.GRADED):
    expected = regress.load_expected(write_expected(tmp_path, text))
    outcome = batch.Outcome("s", status, document, 1.0, "boom")
    return {
        row.what: (row.expected, row.found, row.ok)
        for row in regress.compare("s", expected, outcome)
    }


def test_listed_questions_are_compared_and_others_must_be_zero(tmp_path):
    rows = rows_of('questions:\n  "1.4": 1\n  "3.1": 4\n', tmp_path)
    assert rows == {
        "question 1.1": ("0", "1", False),
        "question 1.4": ("1", "1", True),
        "question 3.1": ("4", "3", False),
        "grader faults": ("none", "none", True),
    }


def test_others_full_expects_all_points_and_any_checks_nothing(tmp_path):
    full = rows_of('questions:\n  "3.1": 3\nothers: full\n', tmp_path)
    assert full["question 1.1"] == ("1 (full)", "1", True)
    assert full["question 1.4"] == ("2 (full)", "1", False)
    assert full["question 3.1"] == ("3", "3", True)
    unchecked = rows_of('questions:\n  "3.1": 3\nothers: any\n', tmp_path)
    assert set(unchecked) == {"question 3.1", "grader faults"}


def test_a_question_that_does_not_exist_is_a_mismatch(tmp_path):
    rows = rows_of('questions:\n  "2.9": 0\nothers: any\n', tmp_path)
    assert rows["question 2.9"] == ("0", "no such", False)


def test_test_status_and_feedback_phrase(tmp_path):
    rows = rows_of(
        "others: any\ntests:\n"
        '  "1.4.1": {status: failed, feedback: "f(0) = 3"}\n'
        '  "3.1.2": {status: passed, feedback: "overflow"}\n'
        '  "3.1.9": {status: failed}\n',
        tmp_path,
    )
    assert rows["test 1.4.1 status"] == ("failed", "failed", True)
    assert rows["test 1.4.1 feedback"] == ("f(0) = 3", "contains it", True)
    assert rows["test 3.1.2 status"] == ("passed", "failed", False)
    assert rows["test 3.1.2 feedback"] == (
        "overflow",
        "attention_weights: not finite",
        False,
    )
    assert rows["test 3.1.9 status"] == ("failed", "no such test", False)


def test_max_seconds_is_compared_with_the_execution_time(tmp_path):
    assert rows_of("others: any\nmax_seconds: 20\n", tmp_path)["seconds"] == (
        "<= 20",
        "12.5",
        True,
    )
    assert not rows_of("others: any\nmax_seconds: 10\n", tmp_path)["seconds"][2]


def test_a_grader_fault_is_always_a_mismatch(tmp_path):
    document = {**DOCUMENT, "tests": [*DOCUMENT["tests"]]}
    document["tests"][0] = entry("1.1", 0, 1, tags=["grader-error"])
    rows = rows_of("others: any\n", tmp_path, document, batch.GRADER_ERROR)
    assert rows["grader faults"] == ("none", "1.1", False)


def test_a_grade_that_did_not_finish_is_one_mismatch(tmp_path):
    rows = rows_of("others: any\n", tmp_path, None, batch.TIMEOUT)
    assert rows == {"grading": ("a results.json", "boom", False)}


def test_table_marks_every_row():
    rows = [
        regress.Row("reference", "question 3.1", "6", "6", True),
        regress.Row("starter", "question 3.1", "0", "2", False),
    ]
    lines = regress.table(rows).splitlines()
    assert lines[0].split() == ["sample", "check", "expected", "found", "result"]
    assert lines[2].split() == ["reference", "question", "3.1", "6", "6", "ok"]
    assert lines[3].split() == ["starter", "question", "3.1", "0", "2", "MISMATCH"]


def test_samples_are_the_folders_with_an_expected_yaml(tmp_path):
    for name in ("b", "a"):
        write_expected(tmp_path / name, "others: any\n")
    (tmp_path / "no_expectations").mkdir()
    assert [p.name for p in regress.samples(tmp_path)] == ["a", "b"]
    assert [p.name for p in regress.samples(tmp_path, ["b"])] == ["b"]
    with pytest.raises(SpecError, match="no sample nope with an expected.yaml"):
        regress.samples(tmp_path, ["nope"])


@pytest.fixture
def sample_tree(tmp_path):
    """Samples graded for part 3 only: one right, one whose expectations are
    wrong, one with a naive (overflowing) attention_weights."""
    samples = tmp_path / "samples"
    good = samples / "good"
    write_expected(good, 'questions:\n  "3.1": 6\n')
    shutil.copy(ROOT / "solutions" / "attention.py", good / "attention.py")
    write_expected(
        samples / "wrong",
        'description: expects points it cannot get\nquestions:\n  "3.1": 6\n',
    )
    naive = samples / "naive"
    write_expected(
        naive,
        'questions:\n  "3.1": 4\n'
        'tests:\n  "3.1.2": {status: failed, feedback: "attention_weights"}\n'
        "max_seconds: 600\n",
    )
    (naive / "attention.py").write_text(NAIVE_ATTENTION)
    return samples, attention_specs(tmp_path / "specs")


def test_regress_command_reports_mismatches_and_exits_1(sample_tree, capsys):
    samples, specs = sample_tree
    code = cli.main(
        ["regress", "--samples-dir", str(samples), "--specs", str(specs), "-j", "2"]
    )
    out = capsys.readouterr().out
    assert code == 1
    lines = {tuple(line.split()[:3]): line for line in out.splitlines()}
    assert lines[("good", "question", "3.1")].endswith("ok")
    assert lines[("naive", "question", "3.1")].endswith("ok")
    assert lines[("naive", "test", "3.1.2")].endswith("ok")
    assert lines[("wrong", "question", "3.1")].endswith("MISMATCH")
    assert "3 samples" in out and "1 mismatches (in wrong)" in out


def test_regress_command_selects_samples_by_name(sample_tree, capsys):
    samples, specs = sample_tree
    code = cli.main(
        ["regress", "good", "--samples-dir", str(samples), "--specs", str(specs)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "1 samples" in out and "0 mismatches" in out
    assert "naive" not in out


def test_regress_command_refuses_a_malformed_expected_yaml(sample_tree, capsys):
    samples, specs = sample_tree
    broken = write_expected(samples / "broken", "others: everything\n")
    code = cli.main(["regress", "--samples-dir", str(samples), "--specs", str(specs)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{broken}, line 1: others must be one of zero, full, any" in err
