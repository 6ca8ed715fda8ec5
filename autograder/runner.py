"""Grading one submission end to end.

The specs become a unittest suite whose test methods carry gradescope-utils'
decorators (weight, number, visibility, tags, partial credit) and run under
its ``JSONTestRunner``; each method runs one check against the student's
code through a per-part worker session. The runner's JSON is then completed
to the full results format (status, output format, visibilities) and
written, in a ``finally``, whatever broke.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
import unittest
from pathlib import Path

from gradescope_utils.autograder_utils.decorators import (
    number,
    partial_credit,
    tags,
    visibility,
)
from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner

from . import checks, results, spec, submission
from .errors import GraderError, SpecError, StudentError, SubmissionError
from .sandbox import IsolationPlan, Reply, RunDir, Worker

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SOLUTIONS = ROOT / "solutions"
PROVIDED = ROOT / "solutions"


class PartSession:
    """The worker serving one part, restarted after any failure."""

    def __init__(
        self, plan: IsolationPlan, rundir: RunDir, part: spec.PartSpec, threads: int
    ):
        self.part = part
        self.module = Path(part.file).stem
        self.worker = Worker(plan, rundir, part.limits, threads)
        self.present = (rundir.submission / part.file).is_file()
        self.files = submission.listing(rundir.submission)
        self.import_failure: str | None = None

    def request(self, probe: str, args: dict, test: spec.TestSpec) -> Reply:
        if not self.present:
            raise StudentError(
                f"{self.part.file} was not found in your submission "
                f"(it holds: {self.files})"
            )
        if self.import_failure:
            raise StudentError(self.import_failure)
        printed = self._import(test) if not self.worker.alive else ""
        reply = self.worker.request(
            {"probe": probe, "args": args, "seed": test.seed}, timeout=test.timeout
        )
        if printed.strip():
            return Reply(reply.message, printed + reply.output, reply.duration)
        return reply

    def _import(self, test: spec.TestSpec) -> str:
        """Import the student's module in a fresh worker; return its output."""
        try:
            reply = self.worker.request(
                {"probe": "import", "args": {"module": self.module}, "seed": test.seed},
                timeout=test.timeout,
            )
        except StudentError as exc:
            self.import_failure = f"importing {self.part.file}: {exc}"
            raise StudentError(self.import_failure) from None
        if not reply.message.get("ok"):
            error = reply.message.get("error") or {}
            self.import_failure = str(error.get("message", "import failed"))
            if reply.output.strip():
                self.import_failure += "\n\nOutput while importing:\n" + reply.output
            raise StudentError(self.import_failure)
        return reply.output

    def close(self) -> None:
        self.worker.stop()


class Grading:
    """State of one run: the specs, the sessions, the clock."""

    def __init__(self, grader: spec.GraderSpec, rundir: RunDir, plan: IsolationPlan):
        self.grader = grader
        self.rundir = rundir
        self.plan = plan
        self.started = time.monotonic()
        self.sessions = {
            part.part: PartSession(plan, rundir, part, grader.threads)
            for part in grader.parts
        }
        self.timings: dict[str, float] = {}

    def run_test(
        self, part: spec.PartSpec, test: spec.TestSpec
    ) -> tuple[float, list[str], bool]:
        """Run one check; return (points, feedback lines, grader fault)."""
        elapsed = time.monotonic() - self.started
        if elapsed > self.grader.time_budget:
            return (
                0.0,
                [
                    f"Not run: the grading time budget of {self.grader.time_budget:g} s "
                    "was used up by earlier tests."
                ],
                False,
            )
        ctx = checks.CheckContext(part, test, self.sessions[part.part], SOLUTIONS)
        began = time.monotonic()
        fault = False
        try:
            verdict = checks.find(test.check)(ctx)
            fraction = min(1.0, max(0.0, float(verdict.fraction)))
            lines = list(verdict.lines)
        except StudentError as exc:
            fraction, lines = 0.0, [str(exc)]
        except Exception:  # noqa: BLE001 - any fault of a check is the grader's
            log.exception("grader fault in test %s (check %s)", test.id, test.check)
            fraction, lines, fault = 0.0, [results.GRADER_FAULT_TEXT], True
        finally:
            self.timings[part.part] = self.timings.get(part.part, 0.0) + (
                time.monotonic() - began
            )
        for text in ctx.outputs:
            lines.append("Output of your code during this test:\n" + text.rstrip())
        return fraction * test.points, lines, fault

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()


def _test_method(grading: Grading, part: spec.PartSpec, test: spec.TestSpec):
    @partial_credit(test.points)
    @number(test.number)
    @visibility(test.visibility)
    @tags(*test.tags)
    def method(self, set_score=None):
        points, lines, fault = grading.run_test(part, test)
        if fault:
            method.__tags__ = (*test.tags, "grader-error")
        set_score(points)
        print("\n".join(lines))
        if points < test.points:
            raise self.failureException(f"{points:g} of {test.points:g} points")

    method.__doc__ = test.name
    return method


def _suite(grading: Grading) -> unittest.TestSuite:
    class GradedTests(unittest.TestCase):
        pass

    names = []
    for part in grading.grader.parts:
        for test in part.tests:
            name = f"test_{part.part}_{test.id}"
            setattr(GradedTests, name, _test_method(grading, part, test))
            names.append(name)
    return unittest.TestSuite(GradedTests(name) for name in names)


def _complete(
    raw: dict, grader: spec.GraderSpec, notes: list[str], elapsed: float
) -> dict:
    """Turn JSONTestRunner's output into the full results format."""
    entries = []
    specs = [t for part in grader.parts for t in part.tests]
    for found, test in zip(raw["tests"], specs, strict=True):
        entries.append(
            results.test_entry(
                name=found["name"],
                number=found.get("number", test.number),
                score=found.get("score", 0.0),
                max_score=found.get("max_score", test.points),
                output=found.get("output", "").rstrip() + "\n",
                visibility=found.get("visibility", test.visibility),
                tags=found.get("tags") or (),
                status=found.get("status"),
            )
        )
    summary = [f"Graded {len(entries)} tests."]
    summary += [f"Note: {note}" for note in notes]
    return results.document(
        entries,
        execution_time=elapsed,
        output="\n".join(summary),
        visibility=grader.visibility,
        stdout_visibility=grader.stdout_visibility,
    )


def _all_failed(grader: spec.GraderSpec, message: str, elapsed: float) -> dict:
    entries = [
        results.test_entry(
            name=test.name,
            number=test.number,
            score=0.0,
            max_score=test.points,
            output=message + "\n",
            visibility=test.visibility,
            tags=test.tags,
        )
        for part in grader.parts
        for test in part.tests
    ]
    return results.document(
        entries,
        execution_time=elapsed,
        output=message,
        visibility=grader.visibility,
        stdout_visibility=grader.stdout_visibility,
    )


def protect_sources() -> None:
    """As root, make the grader's tree unreadable to the worker's user."""
    if os.geteuid() == 0:
        os.chmod(ROOT, 0o700)
        log.info("grader tree %s is now private to root", ROOT)


def grade(
    source: Path,
    results_path: Path,
    spec_dir: Path = SPECS,
    only: list[str] | None = None,
) -> dict:
    """Grade ``source`` (a folder or .zip) and write results.json; always
    writes a valid file, and returns what it wrote."""
    started = time.monotonic()
    document = None
    try:
        grader = spec.load(spec_dir)
        if only:
            grader = _only(grader, only)
        document = _grade(grader, Path(source), started)
    except SpecError as exc:
        log.error("spec error: %s", exc)
        document = results.grader_failure(
            f"spec error: {exc}", time.monotonic() - started
        )
        raise
    except GraderError as exc:
        log.exception("grader error")
        document = results.grader_failure(str(exc), time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - the results file must still be written
        log.exception("unexpected grader failure")
        document = results.grader_failure(
            f"{type(exc).__name__}: {exc}", time.monotonic() - started
        )
    finally:
        if document is None:
            document = results.grader_failure("grading was interrupted")
        results.write(document, results_path)
    return document


def _only(grader: spec.GraderSpec, only: list[str]) -> spec.GraderSpec:
    known = [p.part for p in grader.parts]
    unknown = [name for name in only if name not in known]
    if unknown:
        raise GraderError(f"unknown part(s) {unknown}; parts are {known}")
    parts = tuple(p for p in grader.parts if p.part in only)
    return spec.GraderSpec(**{**grader.__dict__, "parts": parts})


def _grade(grader: spec.GraderSpec, source: Path, started: float) -> dict:
    expected = [part.file for part in grader.parts]
    protect_sources()
    try:
        with submission.prepared(source, expected) as (folder, notes):
            plan = IsolationPlan(grader.worker_user)
            provided = [
                PROVIDED / name for part in grader.parts for name in part.provided
            ]
            rundir = RunDir(plan, folder, provided)
            grading = Grading(grader, rundir, plan)
            try:
                stream = io.StringIO()
                runner = JSONTestRunner(stream=stream, failure_prefix="Result: ")
                runner.run(_suite(grading))
            finally:
                grading.close()
                rundir.remove()
            for part, seconds in grading.timings.items():
                log.info("part %s took %.2f s", part, seconds)
            raw = json.loads(stream.getvalue())
            return _complete(raw, grader, notes, time.monotonic() - started)
    except SubmissionError as exc:
        return _all_failed(grader, str(exc), time.monotonic() - started)
