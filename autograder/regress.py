"""The regression check: grade the sample submissions, compare with what
their ``expected.yaml`` says, and report every match and mismatch.

The format of ``expected.yaml`` is described in ``submissions/README.md``.
Besides what a sample expects, a test tagged ``grader-error`` is always a
mismatch: no sample may make the grader fault.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import batch, runner, spec
from .errors import SpecError

log = logging.getLogger(__name__)

SAMPLES = runner.ROOT / "submissions"
EXPECTED = "expected.yaml"
OTHERS = ("zero", "full", "any")
STATUSES = ("passed", "failed")
QUESTION = re.compile(r"^[1-9]\d*\.\d+$")
TOLERANCE = 1e-6
SHOWN_CHARS = 60


@dataclass(frozen=True)
class TestExpectation:
    status: str | None = None
    feedback: str | None = None


@dataclass(frozen=True)
class Expected:
    """One sample's ``expected.yaml``."""

    path: Path
    description: str = ""
    questions: dict[str, float] = field(default_factory=dict)
    others: str = "zero"
    tests: dict[str, TestExpectation] = field(default_factory=dict)
    max_seconds: float | None = None


@dataclass(frozen=True)
class Row:
    """One comparison: what was checked, what was expected, what was found."""

    sample: str
    what: str
    expected: str
    found: str
    ok: bool


TOP_OPTIONAL = {
    "description": "str",
    "questions": "map",
    "others": "str",
    "tests": "map",
    "max_seconds": "positive",
}
TEST_KEYS = {"status": "str", "feedback": "str"}


def load_expected(path: Path) -> Expected:
    """Read and check an ``expected.yaml``; a mistake raises SpecError naming
    the file, the line and the key."""
    checker = spec._Checker(path)
    node = spec._compose(path)
    top = checker.mapping(node, "expected.yaml", {}, TOP_OPTIONAL)
    others = top.get("others", "zero")
    if others not in OTHERS:
        raise checker.fail(
            spec._child(node, "others"),
            f"others must be one of {', '.join(OTHERS)}, found {others!r}",
        )
    questions = {}
    for key_node, value_node in _pairs(checker, node, "questions"):
        key = _key(checker, key_node, QUESTION, 'a quoted question number ("1.4")')
        questions[key] = checker.value(value_node, "points", f"questions.{key}")
    tests = {}
    for key_node, value_node in _pairs(checker, node, "tests"):
        key = _key(checker, key_node, spec.NUMBER, 'a quoted test number ("1.4.1")')
        values = checker.mapping(value_node, f"tests.{key}", {}, TEST_KEYS)
        if not values:
            raise checker.fail(value_node, f"tests.{key} gives no status or feedback")
        status = values.get("status")
        if status is not None and status not in STATUSES:
            raise checker.fail(
                spec._child(value_node, "status"),
                f"tests.{key}.status must be one of {', '.join(STATUSES)}, "
                f"found {status!r}",
            )
        tests[key] = TestExpectation(status, values.get("feedback"))
    return Expected(
        path=path,
        description=top.get("description", ""),
        questions=questions,
        others=others,
        tests=tests,
        max_seconds=top.get("max_seconds"),
    )


def _pairs(
    checker: spec._Checker, node: yaml.Node, key: str
) -> list[tuple[yaml.Node, yaml.Node]]:
    """The entries of the mapping under ``key``, refusing a key given twice."""
    child = spec._child(node, key)
    pairs = [] if child is None else list(child.value)
    seen = set()
    for key_node, _ in pairs:
        if key_node.value in seen:
            raise checker.fail(key_node, f"{key}: {key_node.value!r} appears twice")
        seen.add(key_node.value)
    return pairs


def _key(
    checker: spec._Checker, node: yaml.Node, pattern: re.Pattern, what: str
) -> str:
    value = spec.SpecLoader(yaml.serialize(node)).get_single_data()
    if not isinstance(value, str) or not pattern.match(value):
        raise checker.fail(node, f"the key {value!r} must be {what}")
    return value


def question_of(number: str) -> str:
    return ".".join(number.split(".")[:2])


def _points(document: dict) -> dict[str, list[float]]:
    """Earned and possible points per question."""
    totals: dict[str, list[float]] = {}
    for test in document["tests"]:
        earned, possible = totals.setdefault(question_of(test["number"]), [0.0, 0.0])
        totals[question_of(test["number"])] = [
            earned + test["score"],
            possible + test["max_score"],
        ]
    return totals


def number_order(number: str) -> list[int]:
    """The sort key of a question or test number: "1.10" after "1.9"."""
    return [int(x) for x in number.split(".")]


def _shown(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN_CHARS else flat[: SHOWN_CHARS - 3] + "..."


def compare(sample: str, expected: Expected, outcome: batch.Outcome) -> list[Row]:
    """Every check of one sample's grade against its expectations."""
    document = outcome.document
    if outcome.status not in (batch.GRADED, batch.GRADER_ERROR) or document is None:
        return [
            Row(sample, "grading", "a results.json", _shown(outcome.message), False)
        ]
    rows = []
    totals = _points(document)
    for question in sorted(set(expected.questions) | set(totals), key=number_order):
        earned, possible = totals.get(question, (None, None))
        if question in expected.questions:
            want = expected.questions[question]
            if earned is None:
                rows.append(
                    Row(sample, f"question {question}", f"{want:g}", "no such", False)
                )
                continue
            ok = abs(earned - want) <= TOLERANCE
            rows.append(
                Row(sample, f"question {question}", f"{want:g}", f"{earned:g}", ok)
            )
        elif expected.others == "zero":
            ok = earned <= TOLERANCE
            rows.append(Row(sample, f"question {question}", "0", f"{earned:g}", ok))
        elif expected.others == "full":
            ok = earned >= possible - TOLERANCE
            want = f"{possible:g} (full)"
            rows.append(Row(sample, f"question {question}", want, f"{earned:g}", ok))
    by_number = {test["number"]: test for test in document["tests"]}
    for number in sorted(expected.tests, key=number_order):
        rows.extend(_test_rows(sample, number, expected.tests[number], by_number))
    if expected.max_seconds is not None:
        seconds = float(document.get("execution_time", 0.0))
        rows.append(
            Row(
                sample,
                "seconds",
                f"<= {expected.max_seconds:g}",
                f"{seconds:.1f}",
                seconds <= expected.max_seconds,
            )
        )
    faulty = [t["number"] for t in document["tests"] if "grader-error" in t["tags"]]
    rows.append(
        Row(sample, "grader faults", "none", ", ".join(faulty) or "none", not faulty)
    )
    return rows


def _test_rows(
    sample: str, number: str, want: TestExpectation, by_number: dict[str, dict]
) -> list[Row]:
    test = by_number.get(number)
    rows = []
    if want.status is not None:
        found = test["status"] if test else "no such test"
        rows.append(
            Row(
                sample,
                f"test {number} status",
                want.status,
                found,
                found == want.status,
            )
        )
    if want.feedback is not None:
        output = test.get("output", "") if test else ""
        ok = test is not None and want.feedback in output
        found = "contains it" if ok else _shown(output) or "no output"
        rows.append(
            Row(sample, f"test {number} feedback", _shown(want.feedback), found, ok)
        )
    return rows


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table, mismatches marked."""
    header = Row("sample", "check", "expected", "found", True)
    widths = [
        max(len(getattr(row, name)) for row in [header, *rows])
        for name in ("sample", "what", "expected", "found")
    ]
    lines = []
    for row in [header, *rows]:
        cells = [row.sample, row.what, row.expected, row.found]
        mark = "result" if row is header else ("ok" if row.ok else "MISMATCH")
        text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        lines.append(f"{text}  {mark}".rstrip())
        if row is header:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def samples(folder: Path, names: list[str] | None = None) -> list[Path]:
    """The sample folders of ``folder`` that have an expected.yaml, or those
    named; a named one without expected.yaml is an error."""
    found = sorted(p.parent for p in folder.glob(f"*/{EXPECTED}"))
    if not names:
        return found
    known = {p.name: p for p in found}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SpecError(
            f"no sample {', '.join(unknown)} with an {EXPECTED} in {folder}; "
            f"samples: {', '.join(sorted(known)) or 'none'}"
        )
    return [known[name] for name in names]


def check(folders: list[Path], settings: batch.Settings, jobs: int = 1) -> list[Row]:
    """Grade the samples (``jobs`` at a time) and compare each with its
    expectations; raise SpecError for a malformed expected.yaml before any
    grading."""
    expected = {folder.name: load_expected(folder / EXPECTED) for folder in folders}
    work = [batch.Job(folder.name, path=str(folder)) for folder in folders]
    rows = []
    for outcome in batch.grade_all(work, settings, jobs):
        log.info(
            "sample %s: %s in %.1f s", outcome.name, outcome.status, outcome.seconds
        )
        rows.extend(compare(outcome.name, expected[outcome.name], outcome))
    return rows


def _run(args: argparse.Namespace) -> int:
    specs = Path(args.specs)
    try:
        spec.load(specs)  # refuse a broken spec before grading anything
        folders = samples(Path(args.samples_dir), args.sample)
        settings = batch.Settings(specs=str(specs), timeout=args.timeout)
        rows = check(folders, settings, args.jobs)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(rows))
    bad = sorted({row.sample for row in rows if not row.ok})
    print(
        f"\n{len(folders)} samples, {len(rows)} checks, "
        f"{sum(not row.ok for row in rows)} mismatches"
        + (f" (in {', '.join(bad)})" if bad else "")
    )
    return 1 if bad else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``regress`` command."""
    parser = commands.add_parser(
        "regress",
        help="grade the sample submissions and compare with their expected.yaml",
        description=(
            "Grade every folder of the samples folder that has an expected.yaml "
            "(or only the samples named), compare per question points, test "
            "status and feedback, and time with what it expects, and print a "
            "table. Exits 1 on any mismatch, 2 on a malformed expected.yaml."
        ),
    )
    parser.add_argument("sample", nargs="*", help="sample names (default: all)")
    parser.add_argument(
        "--samples-dir", default=str(SAMPLES), help="the folder of samples"
    )
    parser.add_argument("--specs", default=str(runner.SPECS), help="the specs folder")
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="samples graded at once (default: the number of cores)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds after which one sample's grading is stopped (default 1800)",
    )
    parser.set_defaults(handler=_run)
