"""Grading many submissions, each in a ``python -m autograder grade`` process.

A process per submission keeps a batch crash-safe: a submission that brings
its grader down or makes it hang costs only its own result, which then says
what happened. The same ``grade`` function runs on this machine (a thread
pool) and on a Dask cluster, where the submission and the specs travel as
bytes. Each grade takes a worker user of its own (``accounts``), so runs
that overlap never kill each other's workers.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .sandbox import cpus_available

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
LOG_TAIL_LINES = 12

GRADED = "graded"
GRADER_ERROR = "grader-error"
TIMEOUT = "timeout"
CRASHED = "crashed"


@dataclass(frozen=True)
class Job:
    """One submission to grade: a local path, or a zip of it as bytes (for a
    grader on another machine)."""

    name: str
    path: str | None = None
    archive: bytes | None = None


@dataclass(frozen=True)
class Settings:
    """What every grade of a batch shares."""

    specs: str
    parts: tuple[str, ...] = ()
    timeout: float = 900.0
    spec_files: tuple[tuple[str, bytes], ...] = ()  # shipped specs, if any
    cpus: float | None = None  # each grade's share of its machine's CPUs


@dataclass(frozen=True)
class Outcome:
    """The result of one grade: results.json if there is one, and what
    happened (graded, grader-error, timeout, crashed)."""

    name: str
    status: str
    document: dict | None
    seconds: float
    message: str = ""


def pack(path: Path) -> bytes:
    """A submission (folder or .zip) as zip bytes; symbolic links are left out,
    as the grader leaves them out of a folder."""
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder, _, names in sorted(os.walk(path)):  # links to folders: not entered
            for name in sorted(names):
                item = Path(folder) / name
                if item.is_file() and not item.is_symlink():
                    archive.write(item, item.relative_to(path).as_posix())
    return buffer.getvalue()


def for_cluster(job: Job, settings: Settings) -> tuple[Job, Settings]:
    """The job and settings with the submission and the specs as bytes."""
    spec_dir = Path(settings.specs)
    shipped = tuple((p.name, p.read_bytes()) for p in sorted(spec_dir.glob("*.yaml")))
    return (
        Job(job.name, archive=pack(Path(job.path or ""))),
        Settings(**{**settings.__dict__, "spec_files": shipped}),
    )


def grade_command(
    source: Path,
    results: Path,
    specs: Path,
    parts: tuple[str, ...],
    cpus: float | None = None,
) -> list[str]:
    """The command that grades one submission."""
    command = [sys.executable, "-m", "autograder", "grade", str(source)]
    command += ["--results", str(results), "--specs", str(specs), "--quiet"]
    for part in parts:
        command += ["--part", part]
    if cpus is not None:
        command += ["--cpus", f"{cpus:g}"]
    return command


def cluster_share() -> float | None:
    """On a Dask worker, each task's share of its machine's CPUs (the
    machine's over the worker's threads); elsewhere None."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    return cpus_available() / max(1, worker.state.nthreads)


def grade(job: Job, settings: Settings) -> Outcome:
    """Grade one submission in a process of its own; never raises."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="dlag-batch-"))
    try:
        workdir.chmod(0o711)  # the worker reaches its run folder through it
        (workdir / "tmp").mkdir(mode=0o711)
        source = Path(job.path or "").absolute()  # the grade runs in ROOT
        if job.archive is not None:
            source = workdir / "submission.zip"
            source.write_bytes(job.archive)
        specs = Path(settings.specs).absolute()
        if settings.spec_files:
            specs = workdir / "specs"
            specs.mkdir()
            for name, content in settings.spec_files:
                (specs / PurePosixPath(name).name).write_bytes(content)
        results_path = workdir / "results.json"
        cpus = settings.cpus if settings.cpus is not None else cluster_share()
        command = grade_command(source, results_path, specs, settings.parts, cpus)
        code, stderr, timed_out = _run(command, workdir, settings.timeout)
        return _outcome(job.name, results_path, code, stderr, timed_out, started)
    except Exception as exc:  # noqa: BLE001 - a batch goes on past one failure
        log.exception("grading %s failed", job.name)
        return Outcome(
            job.name,
            CRASHED,
            None,
            time.monotonic() - started,
            f"{type(exc).__name__}: {exc}",
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _outcome(
    name: str,
    results_path: Path,
    code: int | None,
    stderr: str,
    timed_out: bool,
    started: float,
) -> Outcome:
    seconds = time.monotonic() - started
    if timed_out:
        return Outcome(name, TIMEOUT, None, seconds, "grading was stopped: " + stderr)
    document = None
    if results_path.is_file():
        try:
            document = json.loads(results_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            stderr += f"\nresults.json could not be read: {exc}"
    if code != 0 or document is None:
        return Outcome(
            name, CRASHED, document, seconds, f"the grader exited with {code}: {stderr}"
        )
    faulty = [t["number"] for t in document["tests"] if "grader-error" in t["tags"]]
    if faulty:
        return Outcome(
            name,
            GRADER_ERROR,
            document,
            seconds,
            f"grader faults in test(s) {', '.join(faulty)}: {stderr}",
        )
    return Outcome(name, GRADED, document, seconds)


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def _run(
    command: list[str], workdir: Path, timeout: float
) -> tuple[int | None, str, bool]:
    """Run one grade; return (exit code, the tail of its log, timed out)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["TMPDIR"] = str(workdir / "tmp")
    log_path = workdir / "grade.log"
    timed_out = False
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    text = "\n".join(tail[-LOG_TAIL_LINES:])
    if timed_out:
        text = f"it did not finish within {timeout:g} s\n{text}"
    return process.returncode, text.strip(), timed_out


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def stop_all() -> None:
    """Kill every grade still running (after an interrupt)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for process in running:
        _kill(process)


def grade_all(
    jobs: list[Job],
    settings: Settings,
    workers: int,
    progress: bool = False,
    done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Grade ``jobs`` with up to ``workers`` at a time; outcomes in job order.

    Each grade is told its share of the CPUs, so that it launches workers
    ahead only where ``workers`` grades at once leave it two CPUs or more.
    """
    if settings.cpus is None:
        share = cpus_available() / max(1, min(workers, len(jobs)))
        settings = Settings(**{**settings.__dict__, "cpus": share})
    outcomes: dict[str, Outcome] = {}
    futures = []
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(grade, job, settings) for job in jobs]
        bar = progress_bar(as_completed(futures), len(futures), progress)
        for future in bar:
            outcome = future.result()
            outcomes[outcome.name] = outcome
            if done:
                done(outcome)
    except BaseException:
        for future in futures:
            future.cancel()
        stop_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [outcomes[job.name] for job in jobs]


def progress_bar(items, total: int, shown: bool):
    """A tqdm bar on stderr when ``shown`` and stderr is a terminal. tqdm is
    staff tooling (requirements-dev.txt): grading on Gradescope runs without
    it, so it is imported here only."""
    if not shown:
        return items
    from tqdm import tqdm

    return tqdm(
        items,
        total=total,
        desc="grading",
        unit="submission",
        disable=None,
    )
