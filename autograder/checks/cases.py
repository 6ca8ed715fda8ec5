"""Tests made of many cases: tallying them and wording their failures.

A case is a label ("linear_net(2, -3)", or "linear_net, hidden case 4 of 8"
when the inputs must stay hidden) and a function that returns None when the
case passes or a line saying what is wrong. It may also raise:

- ``CallFailed``, raised by ``call`` and ``probe`` when the student's code
  raised or answered something unreadable; the same message from several
  cases is shown once, with the cases it came from;
- ``StudentError``, whose message already names the case, shown as it is.

A call that times out or kills the worker ends the whole test (with its
message): running the remaining cases would only repeat the wait. So does a
submission whose file is missing or cannot be imported (``EndsTest``): no
case could pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProbeTimeout, StudentError, StudentException, WorkerDied
from . import Verdict

SHOWN_LABELS = 3


class CallFailed(Exception):
    """The student's code raised, or answered what cannot be read."""


class EndsTest(StudentError):
    """The part's file is missing or does not import: the test fails with
    this message alone."""


ENDING = (ProbeTimeout, WorkerDied, EndsTest)


def call(ctx, function: str, *args: Any, **kwargs: Any) -> Any:
    """``ctx.call`` whose failures are grouped across cases."""
    return _grouping(lambda: ctx.call(function, *args, **kwargs))


def probe(ctx, name: str, **args: Any) -> Any:
    """``ctx.probe`` whose failures are grouped across cases."""
    return _grouping(lambda: ctx.probe(name, **args))


def _grouping(request: Callable[[], Any]) -> Any:
    try:
        return request()
    except ENDING:
        raise
    except StudentException as exc:
        raise CallFailed(str(exc)) from None
    except StudentError as exc:
        if type(exc) is StudentError:  # from the session: no file, no import
            raise EndsTest(str(exc)) from None
        raise CallFailed(str(exc)) from None


@dataclass
class Outcome:
    """How many cases passed, and the feedback lines of the others."""

    passed: int
    total: int
    lines: list[str] = field(default_factory=list)
    common: str | None = None  # the one problem of every case, when so

    @property
    def fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def summary(self) -> str:
        return f"{self.passed} of {self.total} cases correct."

    def verdict(self) -> Verdict:
        """All cases weigh the same: the fraction passed, then the failures."""
        return Verdict(self.fraction, [self.summary, *self.lines])


def run(
    name: str,
    cases: Sequence[tuple[str, Callable[[], str | None]]],
    show_inputs: bool,
    shown: int | None = None,
) -> Outcome:
    """Run every case of function ``name``; a problem found in several cases
    is shown once, with the cases it came from (their labels when
    ``show_inputs``, else how many). At most ``shown`` problems are listed
    when given, then how many more there are."""
    problems: dict[str, list[str]] = {}
    named: dict[str, bool] = {}
    passed = 0
    for label, judge in cases:
        try:
            problem = judge()
        except CallFailed as exc:
            problem, has_name = str(exc), True
        except ENDING:
            raise
        except StudentError as exc:
            problem, has_name = str(exc), False
        else:
            if problem is None:
                passed += 1
                continue
            has_name = False
        if not has_name and problem.startswith(f"{label}: "):
            problem = problem[len(label) + 2 :]
        problems.setdefault(problem, []).append(label)
        named[problem] = has_name
    lines = [
        _line(name, problem, labels, named[problem], show_inputs, len(cases))
        for problem, labels in problems.items()
    ]
    if shown is not None and len(lines) > shown:
        hidden = sum(len(labels) for labels in list(problems.values())[shown:])
        noun = "case" if hidden == 1 else "cases"
        lines = lines[:shown] + [f"... and {hidden} more failing {noun}"]
    common = None
    if len(problems) == 1 and not passed and len(cases) > 1:
        (problem,) = problems
        common = problem if named[problem] else f"{name}: {problem}"
    return Outcome(passed, len(cases), lines, common)


def _line(
    name: str, problem: str, labels: list[str], has_name: bool, show: bool, total: int
) -> str:
    if len(labels) == 1 and not has_name:
        return f"{labels[0]}: {problem}"
    text = problem if has_name else f"{name}: {problem}"
    if len(labels) == total > 1:
        return f"{text} (in all {total} cases)"
    if not show:
        return f"{text} (in {len(labels)} of {total} cases)"
    if len(labels) > SHOWN_LABELS + 1:
        more = len(labels) - SHOWN_LABELS
        return f"{text} (in {', '.join(labels[:SHOWN_LABELS])} and {more} more)"
    return f"{text} (in {', '.join(labels)})"
