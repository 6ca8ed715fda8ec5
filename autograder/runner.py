"""Grading one submission end to end.

The specs become a unittest suite whose test methods carry gradescope-utils'
decorators (weight, number, visibility, tags, partial credit) and run under
its ``JSONTestRunner``; each method runs one check against the student's
code through a per-part worker session. The runner's JSON is then completed
to the full results format (status, output format, visibilities) and
written, in a ``finally``, whatever broke.
"""

from __future__ import annotations

import contextlib
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

from . import accounts, checks, numerics, results, spec, submission
from .errors import (
    GraderError,
    ProbeTimeout,
    SpecError,
    StudentError,
    SubmissionError,
)
from .sandbox import IsolationPlan, Reply, RunDir, Worker, cpus_available

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SOLUTIONS = ROOT / "solutions"
PROVIDED = ROOT  # a part spec's ``provided`` files are paths from here


class PartSession:
    """The worker serving one part, restarted after any failure.

    A worker keeps what it saw: the inputs of a hidden test could come out
    in the output of a visible one. So a worker that served a test of one
    visibility other than ``visible`` serves no test of another; the next
    gets a fresh worker (whose files and processes the old one cannot reach).
    """

    def __init__(
        self, plan: IsolationPlan, rundir: RunDir, part: spec.PartSpec, threads: int
    ):
        self.part = part
        self.module = Path(part.file).stem
        self.worker = Worker(plan, rundir, part.limits, threads)
        self.folder = rundir.submission
        self.present = (rundir.submission / part.file).is_file()
        self.files = submission.listing(rundir.submission)
        self.import_failure: str | None = None
        self.seen = "visible"
        self.deadline: float | None = None  # of the run's time budget
        self.budget = 0.0

    @property
    def runs_code(self) -> bool:
        """Whether this part imports a file of the submission in a worker
        (a Python file that is there; ``answers.yaml`` is read by the
        grader itself)."""
        return self.part.file.endswith(".py") and self.present

    def refuse_if_unusable(self) -> None:
        """Fail the test at once when the part's file is missing or did not
        import before."""
        if not self.present:
            raise StudentError(
                f"{self.part.file} was not found in your submission "
                f"(it holds: {self.files})"
            )
        if self.import_failure:
            raise StudentError(self.import_failure)

    def launch_ahead(self, plan: IsolationPlan) -> None:
        """Start this part's worker as ``plan``'s user before its first test,
        while another part is graded; its first probe waits until it is
        ready."""
        if self.runs_code and self.worker.process is None:
            self.worker.plan = plan
            self.worker.launch()

    def request(self, probe: str, args: dict, test: spec.TestSpec) -> Reply:
        self.refuse_if_unusable()
        if self.worker.ready and self.seen not in ("visible", test.visibility):
            self.worker.stop()
        printed = ""
        if not self.worker.ready:
            self.seen = test.visibility
            printed = self._import(test)
        if test.visibility != "visible":
            self.seen = test.visibility
        reply = self._send({"probe": probe, "args": args, "seed": test.seed}, test)
        if printed.strip():
            return Reply(reply.message, printed + reply.output, reply.duration)
        return reply

    def _send(self, message: dict, test: spec.TestSpec) -> Reply:
        """One request, within the test's timeout and the run's time budget."""
        timeout = test.timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
        if timeout <= 0:
            raise ProbeTimeout(
                f"not run: the grading time budget of {self.budget:g} s ran out"
            )
        try:
            return self.worker.request(message, timeout=timeout)
        except ProbeTimeout as exc:
            if timeout < test.timeout:
                raise ProbeTimeout(
                    f"{exc}, when the grading time budget of {self.budget:g} s ran out"
                ) from None
            raise

    def _import(self, test: spec.TestSpec) -> str:
        """Import the student's module in a fresh worker; return its output."""
        try:
            reply = self._send(
                {"probe": "import", "args": {"module": self.module}, "seed": test.seed},
                test,
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
    """State of one run: the specs, the sessions, the clock.

    One part is graded at a time, and every worker of the other parts is
    stopped before its first test, so no worker that ran student code sees
    another. With ``ahead``, a second plan whose user is not ``plan``'s,
    the next part's worker is launched as soon as a part begins, as the
    user the current part's worker is not: it imports numpy and torch while
    the current part is graded, and no student code until its own part
    begins, when the current part's worker, and every process of its user,
    has been killed.
    """

    def __init__(
        self,
        grader: spec.GraderSpec,
        rundir: RunDir,
        plan: IsolationPlan,
        artifacts: Path | None = None,
        ahead: IsolationPlan | None = None,
    ):
        self.grader = grader
        self.artifacts = artifacts  # where checks may save files for staff
        self.rundir = rundir
        self.plan = plan
        self.ahead = ahead
        self.started = time.monotonic()
        self.sessions = {part.part: self.session(part) for part in grader.parts}
        for session in self.sessions.values():
            session.deadline = self.started + grader.time_budget
            session.budget = grader.time_budget
        self.timings: dict[str, float] = {}

    def session(self, part: spec.PartSpec) -> PartSession:
        """The session that serves ``part``'s probes."""
        return PartSession(self.plan, self.rundir, part, self.grader.threads)

    def _following(self, part: spec.PartSpec) -> str | None:
        """The next part after ``part`` that runs code in a worker."""
        names = list(self.sessions)
        for name in names[names.index(part.part) + 1 :]:
            if self.sessions[name].runs_code:
                return name
        return None

    def _switch_to(self, part: spec.PartSpec) -> None:
        """Stop the workers of other parts; launch the next part's ahead."""
        following = self._following(part) if self.ahead is not None else None
        for name, session in self.sessions.items():
            if name not in (part.part, following):
                session.close()
        if following is not None:
            current = self.sessions[part.part].worker.plan
            other = self.ahead if current is self.plan else self.plan
            self.sessions[following].launch_ahead(other)

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
        self._switch_to(part)
        ctx = checks.CheckContext(
            part, test, self.sessions[part.part], SOLUTIONS, self.artifacts
        )
        began = time.monotonic()
        fault = False
        try:
            check = checks.find(test.check)
            # The first find imports every module of checks, and torch: the
            # grader's own start-up, not this part's time.
            began = time.monotonic()
            verdict = check(ctx)
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
    cpus: float | None = None,
) -> dict:
    """Grade ``source`` (a folder or .zip) and write results.json; always
    writes a valid file, and returns what it wrote.

    ``cpus`` is how many CPUs this run may count on (a batch gives each of
    its runs a share); by default, what the machine gives this process.
    """
    started = time.monotonic()
    document = None
    # Written first, so that the file at results_path is the grader's own
    # from the start, and says so if the run is cut short.
    results.write(results.grader_failure("grading did not finish"), results_path)
    log.info(
        "numeric code paths: %s",
        numerics.worker_variables() or "torch's own (no AVX2 on this processor)",
    )
    try:
        grader = spec.load(spec_dir)
        if only:
            grader = _only(grader, only)
        document = _grade(
            grader, Path(source), started, Path(results_path).parent, cpus
        )
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


def _plans(
    grader: spec.GraderSpec, stack: contextlib.ExitStack, cpus: float | None
) -> tuple[IsolationPlan, IsolationPlan | None]:
    """The plan of the run's workers and, where workers are launched ahead,
    the plan of the next part's (as root, a second slot and user).

    Launching ahead only pays where the next worker's start-up can use a CPU
    that the current part leaves idle: on a machine with fewer than two
    CPUs for the grader (Gradescope's default gives half of one), it would
    slow the current part's probes instead, and is not done.
    """
    plan = IsolationPlan(stack.enter_context(accounts.worker_slot(grader.worker_user)))
    if cpus is None:
        cpus = cpus_available()
    if not grader.launch_ahead:
        log.info("workers are started one at a time (launch_ahead is off)")
        return plan, None
    if cpus < 2:
        log.info("workers are started one at a time (%g CPUs available)", cpus)
        return plan, None
    if plan.account is None:
        return plan, plan  # no user switch: one user, nothing to keep apart
    try:
        second = stack.enter_context(accounts.worker_slot(grader.worker_user))
    except GraderError as exc:
        log.warning("workers are started one at a time: %s", exc)
        return plan, None
    log.info("workers of the next part are launched ahead as %s", second.pw_name)
    return plan, IsolationPlan(second)


def _grade(
    grader: spec.GraderSpec,
    source: Path,
    started: float,
    artifacts: Path | None = None,
    cpus: float | None = None,
) -> dict:
    expected = [part.file for part in grader.parts]
    protect_sources()
    try:
        with contextlib.ExitStack() as stack:
            folder, notes = stack.enter_context(submission.prepared(source, expected))
            plan, ahead = _plans(grader, stack, cpus)
            provided = [
                PROVIDED / name for part in grader.parts for name in part.provided
            ]
            rundir = RunDir(folder, provided)
            grading = Grading(grader, rundir, plan, artifacts, ahead)
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
