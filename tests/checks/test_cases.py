"""Tallying the cases of a test and wording their failures."""

from __future__ import annotations

import pytest

from autograder.checks import cases
from autograder.checks.cases import CallFailed
from autograder.errors import (
    ProbeTimeout,
    ProtocolError,
    StudentError,
    StudentException,
)


def raising(error):
    def judge():
        raise error

    return judge


def returning(value):
    return lambda: value


def labelled(*judges):
    return [(f"f({index})", judge) for index, judge in enumerate(judges)]


CASES = [
    (
        "all pass",
        labelled(returning(None), returning(None)),
        True,
        None,
        (2, []),
    ),
    (
        "one problem names its case",
        labelled(returning(None), returning("f(1): f(0) = 1, expected 2")),
        True,
        None,
        (1, ["f(1): f(0) = 1, expected 2"]),
    ),
    (
        "a repeated form error is said once, with its cases",
        labelled(
            returning(None),
            raising(StudentError("f(1): w0: expected a vector")),
            raising(StudentError("f(2): w0: expected a vector")),
        ),
        True,
        None,
        (1, ["f: w0: expected a vector (in f(1), f(2))"]),
    ),
    (
        "a repeated exception of the student's code",
        labelled(raising(CallFailed("f raised KeyError: 'x'")), returning(None))
        + [("f(9)", raising(CallFailed("f raised KeyError: 'x'")))],
        True,
        None,
        (1, ["f raised KeyError: 'x' (in f(0), f(9))"]),
    ),
    (
        "one exception still names its case",
        labelled(raising(CallFailed("f raised KeyError: 'x'")), returning(None)),
        True,
        None,
        (1, ["f raised KeyError: 'x' (in f(0))"]),
    ),
    (
        "hidden inputs: counts instead of labels",
        labelled(
            raising(CallFailed("f raised KeyError: 'x'")),
            raising(CallFailed("f raised KeyError: 'x'")),
            returning(None),
        ),
        False,
        None,
        (1, ["f raised KeyError: 'x' (in 2 of 3 cases)"]),
    ),
    (
        "every case with one exception",
        labelled(*[raising(CallFailed("f raised E: e"))] * 6),
        True,
        None,
        (0, ["f raised E: e (in all 6 cases)"]),
    ),
    (
        "more than four cases are cut to three",
        labelled(*[raising(CallFailed("f raised E: e"))] * 5, returning(None)),
        True,
        None,
        (1, ["f raised E: e (in f(0), f(1), f(2) and 2 more)"]),
    ),
    (
        "at most `shown` problems, then how many cases are left",
        labelled(
            returning("f(0): a"),
            returning("f(1): b"),
            returning("f(2): c"),
            raising(CallFailed("f raised E: e")),
            raising(CallFailed("f raised E: e")),
        ),
        True,
        2,
        (0, ["f(0): a", "f(1): b", "... and 3 more failing cases"]),
    ),
]


@pytest.mark.parametrize(
    ("runs", "show", "shown", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_cases_are_tallied_and_their_failures_grouped(runs, show, shown, expected):
    outcome = cases.run("f", runs, show, shown=shown)
    assert (outcome.passed, outcome.lines) == expected
    assert outcome.total == len(runs)


def test_the_verdict_is_the_fraction_passed_with_a_summary():
    outcome = cases.run("f", labelled(returning(None), returning("f(1): x")), True)
    verdict = outcome.verdict()
    assert verdict.fraction == 0.5
    assert verdict.lines == ["1 of 2 cases correct.", "f(1): x"]


def test_one_problem_in_every_case_is_named_for_merging():
    outcome = cases.run("f", labelled(*[raising(CallFailed("f raised E"))] * 2), True)
    assert outcome.common == "f raised E"
    outcome = cases.run("f", labelled(returning("f(0): x"), returning("f(1): x")), True)
    assert outcome.common == "f: x"
    outcome = cases.run("f", labelled(returning(None), returning("f(1): x")), True)
    assert outcome.common is None


@pytest.mark.parametrize(
    "error",
    [ProbeTimeout("f: did not finish within 1 s"), cases.EndsTest("f.py is missing")],
)
def test_a_timeout_or_a_missing_file_ends_the_whole_test(error):
    with pytest.raises(type(error)):
        cases.run("f", labelled(returning(None), raising(error)), True)


class FakeContext:
    def __init__(self, error):
        self.error = error

    def call(self, function, *args, **kwargs):
        raise self.error


@pytest.mark.parametrize(
    ("error", "becomes"),
    [
        (StudentException("f raised E: e", "E", "e", ""), CallFailed),
        (ProtocolError("f: answered with 70 MB of data"), CallFailed),
        (StudentError("f.py was not found in your submission"), cases.EndsTest),
        (ProbeTimeout("f: did not finish within 1 s"), ProbeTimeout),
    ],
)
def test_failed_calls_are_sorted_by_what_they_mean(error, becomes):
    with pytest.raises(becomes, match=str(error)):
        cases.call(FakeContext(error), "f", 1)
