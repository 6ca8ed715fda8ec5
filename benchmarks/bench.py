"""Benchmarks of the autograder on this machine.

    .venv/bin/python benchmarks/bench.py                  # everything, 3 runs
    .venv/bin/python benchmarks/bench.py --runs 5 --only grading

Four measurements, each printed as a table with its target:

grading
    ``submissions/reference`` graded end to end by ``runner.grade``, each run
    in a fresh interpreter: the wall time of the whole process and the time
    of each part's checks (``Grading.timings``, starting the part's worker
    included), medians over the runs.
isolation
    The same grading, each run in a fresh interpreter, through the sandboxed
    workers or through ``DirectSession``, which imports the worker's probes
    and the student's modules into the grader's own process (the unsafe
    way), alternately: the ratio of the medians, of wall and of CPU time, is
    the cost of isolation. Both ways must give the same scores.
regrade
    ``python -m autograder regrade`` over copies of a few samples of
    ``submissions/``, with a specs folder of the fast parts only (all but
    part 5, whose image fits take 10 s or more): ``--jobs 1`` pinned to one
    core (the serial baseline), ``--jobs 1`` and ``--jobs 2``; submissions
    per minute and the parallel efficiency T(1 job, 1 core) / (2 · T(2 jobs)).
memory
    Over the gradings: the peak resident memory of the grading process
    (``ru_maxrss``) and of its workers (``RUSAGE_CHILDREN``; per part, the
    ``VmHWM`` of the worker sampled from ``/proc``), and the largest sum of
    the two at one moment, as RSS and as PSS.

Other programs running on the machine make timings noisy: every run prints
the share of the machine's CPU that other programs used meanwhile (from
``/proc/stat``), and every time is a median over the runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")

from autograder import checks, runner, sandbox, spec  # noqa: E402
from autograder.errors import StudentError  # noqa: E402
from autograder.sandbox import Reply, RunDir  # noqa: E402
from autograder.worker import main as worker_main  # noqa: E402
from autograder.worker import probes, protocol  # noqa: E402

REFERENCE = ROOT / "submissions" / "reference"
SECTIONS = ("grading", "isolation", "regrade", "memory")
SLOW_PARTS = ("siren",)  # left out of the throughput runs
REGRADE_SAMPLES = (
    "reference",
    "starter",
    "hat-wrong-peak",
    "bptt-off-by-one",
    "copy-query-ignores-norm",
)
RESULT_MARK = "BENCH-RESULT "
TARGETS = {
    "total": 30.0,  # s, grading the reference
    "part": 3.0,  # s, any part but siren
    "ratio": 1.3,  # sandboxed / direct
    "efficiency": 0.8,  # at 2 jobs
    "memory": 700.0,  # MB, grader and worker
}


# The in-process session


class DirectSession(runner.PartSession):
    """A part session without a worker: ``runner.PartSession``, but the
    probes run in this process.

    The worker's probe package is imported here, the submission's and the
    provided folders join ``sys.path``, and ``probes.run`` serves each
    request after the worker's own ``reset_state``. Arguments and values go
    through ``protocol.encode`` and ``protocol.decode`` so that checks see
    the types they see from a worker. Nothing is isolated: this is the way
    an autograder without a sandbox works, for comparison only. Its
    ``worker`` is never started.
    """

    def __init__(self, part: spec.PartSpec, rundir: RunDir, threads: int):
        super().__init__(None, rundir, part, threads)
        self.threads = threads
        self.provided = rundir.provided
        self.context: probes.Context | None = None

    def launch_ahead(self, plan) -> None:
        """Nothing to launch: the probes run in this process."""

    def request(self, probe: str, args: dict, test: spec.TestSpec) -> Reply:
        self.refuse_if_unusable()
        printed = ""
        if self.context is None:
            printed = self._import(test)
        reply = self._run(probe, args, test.seed)
        if printed.strip():
            return Reply(reply.message, printed + reply.output, reply.duration)
        return reply

    def _import(self, test: spec.TestSpec) -> str:
        sys.path[:0] = [str(self.provided), str(self.folder)]
        importlib.invalidate_caches()
        self.context = probes.Context(
            submission=str(self.folder), settings={"threads": self.threads}
        )
        reply = self._run("import", {"module": self.module}, test.seed)
        if not reply.message.get("ok"):
            error = reply.message.get("error") or {}
            self.import_failure = str(error.get("message", "import failed"))
            raise StudentError(self.import_failure)
        return reply.output

    def _run(self, name: str, args: dict, seed: int) -> Reply:
        started = time.perf_counter()
        args = protocol.decode(protocol.encode(args))
        worker_main.reset_state(seed, self.threads)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            try:
                message = {"ok": True, "value": probes.run(self.context, name, args)}
            except probes.ProbeRefused as exc:
                message = {"ok": False, "error": exc.as_dict()}
            except BaseException as exc:  # noqa: BLE001 - as the worker does
                if isinstance(exc, KeyboardInterrupt):
                    raise
                error = worker_main.describe_exception(exc, str(self.folder))
                message = {"ok": False, "error": error}
        message = protocol.decode(protocol.encode(message))
        return Reply(message, printed.getvalue(), time.perf_counter() - started)

    def close(self) -> None:
        """Forget the student's modules, so the next run imports them anew."""
        if self.context is None:
            return
        roots = (str(self.folder), str(self.provided))
        for name, module in list(sys.modules.items()):
            origin = getattr(module, "__file__", None) or ""
            if origin.startswith(roots):
                del sys.modules[name]
        for entry in roots:
            while entry in sys.path:
                sys.path.remove(entry)
        self.context = None


@contextlib.contextmanager
def grading_class(make: type) -> Iterator[None]:
    """Make ``runner.grade`` build its ``Grading`` with ``make``."""
    original = runner.Grading
    runner.Grading = make
    try:
        yield
    finally:
        runner.Grading = original


def grade_in_process(
    source: Path, direct: bool, parts: list[str] | None = None
) -> tuple[dict, dict[str, float], float]:
    """Grade ``source`` with ``runner.grade`` in this process, through
    workers or (``direct``) through ``DirectSession``; return the results
    document, the seconds per part and the seconds of the whole run."""
    timings: dict[str, float] = {}
    base = runner.Grading

    class Measured(base):
        def session(self, part: spec.PartSpec) -> runner.PartSession:
            if direct:
                return DirectSession(part, self.rundir, self.grader.threads)
            return super().session(part)

        def close(self) -> None:
            timings.update(self.timings)
            super().close()

    with tempfile.TemporaryDirectory(prefix="dlag-bench-") as folder:
        Path(folder).chmod(0o711)
        started = time.monotonic()
        with grading_class(Measured):
            document = runner.grade(
                source, Path(folder) / "results.json", runner.SPECS, parts
            )
        seconds = time.monotonic() - started
    return document, timings, seconds


def scores(document: dict) -> dict[str, float]:
    return {test["number"]: test["score"] for test in document["tests"]}


def grader_faults(document: dict) -> list[str]:
    return [t["number"] for t in document["tests"] if "grader-error" in t["tags"]]


# Child processes


class MemorySampler:
    """Samples, from /proc, the peak resident memory (VmHWM) of the running
    workers of a grading by part, and the largest sum of the grader's and
    its workers' memory at one moment, as resident (RSS) and proportional
    (PSS: pages shared by the processes, such as torch's libraries, counted
    once) set sizes. PSS is read (a walk of the page tables, about 1 ms per
    process) at most every ``pss_period`` and only near the largest RSS."""

    def __init__(self, period: float = 0.05, pss_period: float = 0.2):
        self.period = period
        self.pss_period = pss_period
        self.grading: runner.Grading | None = None
        self.peaks: dict[str, int] = {}
        self.rss = 0
        self.pss = 0
        self.cpu = 0.0  # of the sampling thread, not the grader's
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        last_pss = 0.0
        while not self._stop.wait(self.period):
            grading = self.grading
            if grading is None:
                continue
            pids = [os.getpid()]
            for name, session in list(grading.sessions.items()):
                process = getattr(getattr(session, "worker", None), "process", None)
                if process is None:
                    continue
                for pid in [process.pid, *_descendants(process.pid)]:
                    peak = _status_kb(pid, "VmHWM")
                    self.peaks[name] = max(self.peaks.get(name, 0), peak)
                    pids.append(pid)
            rss = sum(_status_kb(pid, "VmRSS") for pid in pids)
            self.rss = max(self.rss, rss)
            now = time.monotonic()
            if rss >= 0.95 * self.rss and now - last_pss >= self.pss_period:
                last_pss = now
                self.pss = max(self.pss, sum(_pss_kb(pid) for pid in pids))
        self.cpu = time.thread_time()


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            children = [int(n) for n in f.read().split()]
    except (OSError, ValueError):
        return []
    return children + [d for c in children for d in _descendants(c)]


def child_grade(source: Path, results: Path) -> dict:
    """One end-to-end grading, as ``python -m autograder grade`` runs it, with
    the time of the imports, of each part and the peaks of memory."""
    began = time.monotonic()
    checks.names()  # the checks and torch, before the first part's clock
    imports = time.monotonic() - began
    sampler = MemorySampler()
    timings: dict[str, float] = {}

    class Recorded(runner.Grading):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            sampler.grading = self

        def close(self) -> None:
            timings.update(self.timings)
            super().close()

    with sampler, grading_class(Recorded):
        started = time.monotonic()
        document = runner.grade(source, results)
        grading = time.monotonic() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "imports": imports,
        "grade": grading,
        "parts": timings,
        "score": document["score"],
        "max_score": sum(t["max_score"] for t in document["tests"]),
        "faults": grader_faults(document),
        "grader_kb": own.ru_maxrss,
        "workers_kb": children.ru_maxrss,
        "worker_peaks_kb": sampler.peaks,
        "together_rss_kb": sampler.rss,
        "together_pss_kb": sampler.pss,
        "grader_cpu": own.ru_utime + own.ru_stime - sampler.cpu,
        "workers_cpu": children.ru_utime + children.ru_stime,
    }


def child_isolation(source: Path, mode: str, parts: list[str] | None) -> dict:
    """One grading of ``source`` in this fresh process, through workers
    (``sandboxed``) or through ``DirectSession`` (``direct``): its times and
    scores, the CPU time of this process and its workers, and the workers'
    start-ups: from launch to ready, and how long the grading waited."""
    checks.names()
    launched: dict[int, float] = {}
    starts: list[float] = []
    waits: list[float] = []
    launch, start = sandbox.Worker.launch, sandbox.Worker.start

    def timed_launch(self) -> None:
        launch(self)
        launched[id(self)] = time.monotonic()

    def timed_start(self) -> None:
        began = time.monotonic()
        start(self)
        ready = time.monotonic()
        waits.append(ready - began)
        starts.append(ready - launched.get(id(self), began))

    sandbox.Worker.launch = timed_launch
    sandbox.Worker.start = timed_start
    document, timings, seconds = grade_in_process(source, mode == "direct", parts)
    return {
        "seconds": seconds,
        "cpu": _cpu_seconds(),
        "parts": timings,
        "starts": starts,
        "waits": waits,
        "scores": scores(document),
        "faults": grader_faults(document),
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_run(command: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``command``; return it, its wall time and the share of the
    machine's CPU that other programs used meanwhile (0 to 1)."""
    machine, ours = _machine_cpu(), _children_cpu()
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    wall = time.monotonic() - started
    others = (_machine_cpu() - machine) - (_children_cpu() - ours)
    return done, wall, max(0.0, others) / (wall * len(os.sched_getaffinity(0)))


def _machine_cpu() -> float:
    """CPU seconds all programs of the machine have used (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _, _, irq, softirq, steal = (int(v) for v in fields[:8])
    busy = user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    """CPU seconds of this process's children that have ended, with theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def in_child(*arguments: str) -> tuple[dict, float]:
    """Run this script's ``--child`` mode in a fresh interpreter; return what
    it reported (with ``others``, the share of the machine other programs
    used meanwhile) and the wall time of the whole process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *arguments]
    done, wall, others = timed_run(command)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            report = json.loads(line[len(RESULT_MARK) :])
            report["others"] = others
            return report, wall
    raise RuntimeError(
        f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-3000:]}"
    )


# Sections


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def busy(share: float) -> str:
    return f"other programs used {100 * share:.0f}% of the machine meanwhile"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [f"{str(c):<{w}}" for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _row(label: str, values: list[float], target: str = "", ok=None) -> list[str]:
    spread = f"{min(values):.2f} - {max(values):.2f}"
    return [label, f"{median(values):.2f}", spread, target, "" if ok is None else ok]


def section_grading(runs: int, scratch: Path) -> list[dict]:
    print(f"\n## 1. Grading submissions/reference end to end ({runs} runs)\n")
    reports = []
    for index in range(runs):
        report, wall = in_child("grade", str(REFERENCE), str(scratch / "results.json"))
        report["wall"] = wall
        reports.append(report)
        print(
            f"run {index + 1}: {wall:.1f} s, score {report['score']:g} / "
            f"{report['max_score']:g}, grader faults: {report['faults'] or 'none'}; "
            f"{busy(report['others'])}",
            flush=True,
        )
    rows = []
    for part in reports[0]["parts"]:
        times = [r["parts"].get(part, 0.0) for r in reports]
        limit = TARGETS["total"] if part in SLOW_PARTS else TARGETS["part"]
        ok = verdict(median(times) <= limit)
        rows.append(_row(part, times, f"<= {limit:g}", ok))
    inside = [r["grade"] - sum(r["parts"].values()) for r in reports]
    rows.append(_row("specs, copies, worker stops, results.json", inside))
    outside = [r["wall"] - r["grade"] for r in reports]
    rows.append(_row("interpreter start, imports (torch, checks), exit", outside))
    walls = [r["wall"] for r in reports]
    ok = verdict(median(walls) <= TARGETS["total"])
    limit = f"<= {TARGETS['total']:g}"
    rows.append(_row("total: wall time of the process", walls, limit, ok))
    print()
    print(table(["part", "median s", "range s", "target", ""], rows))
    grader_cpu = median(r["grader_cpu"] for r in reports)
    workers_cpu = median(r["workers_cpu"] for r in reports)
    imports = median(r["imports"] for r in reports)
    print(
        f"\nCPU time: grader {grader_cpu:.1f} s, workers {workers_cpu:.1f} s "
        "(medians). A part's time is that of its checks (Grading.timings), "
        "starting its worker included. The grader imports torch and the checks "
        f"before the first part ({imports:.2f} s)."
    )
    return reports


def section_isolation(runs: int) -> None:
    print(f"\n## 2. The cost of isolation ({runs} runs of each, alternately)\n")
    found: dict[str, list[dict]] = {"sandboxed": [], "direct": []}
    for index in range(runs):
        order = ("sandboxed", "direct") if index % 2 == 0 else ("direct", "sandboxed")
        for mode in order:
            report, wall = in_child("isolation", str(REFERENCE), mode)
            report["wall"] = wall
            found[mode].append(report)
            print(
                f"run {index + 1}, {mode}: {wall:.1f} s; {busy(report['others'])}",
                flush=True,
            )
    boxed, direct = found["sandboxed"], found["direct"]
    same = all(b["scores"] == d["scores"] for b, d in zip(boxed, direct, strict=True))
    faults = sorted({n for r in boxed + direct for n in r["faults"]})

    def line(label: str, pick) -> list[str]:
        b, d = median(map(pick, boxed)), median(map(pick, direct))
        ratio = f"{b / d:.2f}" if d >= 0.01 else "-"
        return [label, f"{b:.2f}", f"{d:.2f}", f"{b - d:+.2f}", ratio]

    rows = [
        line(part, lambda r, part=part: r["parts"].get(part, 0.0))
        for part in boxed[0]["parts"]
    ]
    rows.append(
        line(
            "fast parts (all but siren)",
            lambda r: sum(t for p, t in r["parts"].items() if p not in SLOW_PARTS),
        )
    )
    rows.append(line("whole process, wall", lambda r: r["wall"]))
    rows.append(line("whole process, CPU", lambda r: r["cpu"]))
    print()
    print(table(["part", "sandboxed s", "direct s", "difference", "ratio"], rows))
    wall = median(r["wall"] for r in boxed) / median(r["wall"] for r in direct)
    cpu = median(r["cpu"] for r in boxed) / median(r["cpu"] for r in direct)
    counts = median(len(r["starts"]) for r in boxed)
    each = median(t for r in boxed for t in r["starts"])
    waited = median(sum(r["waits"]) for r in boxed)
    print(
        f"\nRatio, wall time: {wall:.3f}; CPU time: {cpu:.3f} (target <= "
        f"{TARGETS['ratio']:g}: {verdict(wall <= TARGETS['ratio'])}). Same scores "
        f"both ways: {'yes' if same else 'NO'}; grader faults: {faults or 'none'}."
        f"\nEach run grades in a fresh process, as on Gradescope. The sandboxed "
        f"way starts {counts:g} workers, {each:.2f} s each from launch to ready "
        "(median): a fresh interpreter that imports numpy and torch before the "
        f"student's module. The grading waited {waited:.2f} s for them in all "
        "(median); the rest of their start-ups overlapped the part before "
        "(workers launched ahead, specs/grader.yaml). The direct way imports "
        "the worker's probes and the student's modules into the grader's "
        "process, which has torch already, with no limits."
    )


def _fast_specs(folder: Path) -> list[str]:
    """A specs folder with every part but the slow ones; its part names."""
    folder.mkdir(parents=True)
    shutil.copy2(runner.SPECS / "grader.yaml", folder / "grader.yaml")
    kept = []
    for path in sorted(runner.SPECS.glob("*.yaml")):
        if path.name == "grader.yaml" or path.stem in SLOW_PARTS:
            continue
        shutil.copy2(path, folder / path.name)
        kept.append(path.stem)
    return kept


def _regrade_folder(folder: Path, count: int) -> None:
    """``count`` submissions: copies of the samples, in turn."""
    folder.mkdir(parents=True)
    for index in range(count):
        sample = REGRADE_SAMPLES[index % len(REGRADE_SAMPLES)]
        shutil.copytree(
            ROOT / "submissions" / sample,
            folder / f"submission-{index + 1:02d}-{sample}",
            ignore=shutil.ignore_patterns("expected.yaml"),
        )


def section_regrade(runs: int, count: int, scratch: Path) -> None:
    print(f"\n## 3. Batch regrade throughput ({count} submissions, {runs} runs)\n")
    specs = scratch / "fast-specs"
    parts = _fast_specs(specs)
    export = scratch / "export"
    _regrade_folder(export, count)
    print(
        f"Specs: parts {', '.join(parts)}; part 5 (siren) is left out, its image "
        f"fits alone take 10 s or more. Submissions: copies of "
        f"{', '.join(REGRADE_SAMPLES)} in turn.\n",
        flush=True,
    )
    # (label, jobs, pinned to one core): the one-core run is the serial
    # baseline of the parallel efficiency; a single job on the whole
    # machine already uses the second core at times, to launch workers
    # ahead, so it would understate the scaling of the jobs themselves.
    configs = [("1 job, 1 core", 1, True), ("1 job", 1, False), ("2 jobs", 2, False)]
    seconds: dict[str, list[float]] = {label: [] for label, _, _ in configs}
    shares: dict[str, list[float]] = {label: [] for label, _, _ in configs}
    first_core = str(min(os.sched_getaffinity(0)))
    for index in range(runs):
        for label, jobs, pinned in configs if index % 2 == 0 else configs[::-1]:
            grades = scratch / f"grades-{jobs}.csv"
            command = [sys.executable, "-m", "autograder", "regrade", str(export)]
            command += ["--jobs", str(jobs), "--csv", str(grades)]
            command += ["--specs", str(specs)]
            if pinned:
                command = ["taskset", "-c", first_core, *command]
            done, wall, others = timed_run(command)
            with open(grades, encoding="utf-8") as stream:
                statuses = [row["status"] for row in csv.DictReader(stream)]
            graded = statuses.count("graded")
            if done.returncode != 0 or graded != count:
                print(f"regrade ({label}) exited with {done.returncode}:")
                print(done.stderr[-2000:])
            seconds[label].append(wall)
            shares[label].append(others)
            print(
                f"run {index + 1}, {label}: {wall:.1f} s, {graded} of "
                f"{len(statuses)} graded; {busy(others)}",
                flush=True,
            )
    serial = median(seconds["1 job, 1 core"])
    two = median(seconds["2 jobs"])
    efficiency = serial / (2 * two)
    best = min(seconds["1 job, 1 core"]) / (2 * min(seconds["2 jobs"]))
    rows = []
    for label, jobs, pinned in configs:
        taken = median(seconds[label])
        # Efficiency is per core used: a single job on the whole machine
        # uses more than one at times, and has none.
        share = f"{100 * serial / (jobs * taken):.0f}%" if pinned or jobs > 1 else ""
        rows.append(
            [
                label,
                f"{taken:.1f}",
                f"{60 * count / taken:.1f}",
                f"{serial / taken:.2f}",
                share,
            ]
        )
    print()
    header = ["run", "median s", "submissions/min", "speed-up", "efficiency"]
    print(table(header, rows))
    print(
        "\nParallel efficiency T(1 job, 1 core) / (2 T(2 jobs)) of the medians: "
        f"{100 * efficiency:.0f}% (target >= {100 * TARGETS['efficiency']:.0f}%: "
        f"{verdict(efficiency >= TARGETS['efficiency'])}); of the fastest run of "
        f"each: {100 * best:.0f}%. Speed-up and efficiency are against the "
        "one-core run. A single job on the whole machine launches each next "
        "worker on the second core (launch_ahead), which is why it beats the "
        "one-core run; two jobs leave no core idle and launch nothing ahead. "
        "Other programs used a median "
        f"{100 * median(shares['1 job']):.0f}% of the machine during the 1-job "
        f"runs and {100 * median(shares['2 jobs']):.0f}% during the 2-job runs."
    )


def section_memory(reports: list[dict], runs: int, scratch: Path) -> None:
    if not reports:
        print(f"\n## 4. Peak memory ({runs} gradings of submissions/reference)\n")
        for _ in range(runs):
            report, wall = in_child(
                "grade", str(REFERENCE), str(scratch / "results.json")
            )
            report["wall"] = wall
            reports.append(report)
    else:
        print(f"\n## 4. Peak memory (over the {len(reports)} gradings above)\n")

    def most(key: str) -> float:
        return max(r[key] for r in reports) / 1024

    limit = TARGETS["memory"]
    grader, worker = most("grader_kb"), most("workers_kb")
    rows = [
        ["grader process (ru_maxrss)", f"{grader:.0f}", verdict(grader < limit)],
        [
            "largest worker (RUSAGE_CHILDREN ru_maxrss)",
            f"{worker:.0f}",
            verdict(worker < limit),
        ],
    ]
    for part in sorted({p for r in reports for p in r["worker_peaks_kb"]}):
        peak = max(r["worker_peaks_kb"].get(part, 0) for r in reports) / 1024
        rows.append([f"  worker of {part} (VmHWM)", f"{peak:.0f}", ""])
    together = most("together_rss_kb")
    rows.append(["grader + workers at one moment, RSS", f"{together:.0f}", ""])
    shared = most("together_pss_kb")
    rows.append(
        [
            "grader + workers at one moment, PSS",
            f"{shared:.0f}",
            verdict(shared < limit),
        ]
    )
    print(table(["process", "peak MB", f"< {limit:g} MB"], rows))
    print(
        "\nThe grader waits while the current part's worker runs, and the "
        "next part's worker, launched ahead, waits too, but all are resident: "
        "what the machine needs is their sum at one moment, sampled every "
        "50 ms from /proc. RSS counts the pages of torch's libraries, which "
        "the processes share, once per process; PSS counts them once."
    )


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory = f", {int(first.split()[1]) / 2**20:.0f} GB of memory"
    import torch

    cores = len(os.sched_getaffinity(0))
    user = "root (worker user switch)" if os.geteuid() == 0 else "a normal user"
    return (
        f"{cores} cores ({model or platform.processor()}){memory}; "
        f"{platform.system()} {platform.release()}; Python "
        f"{platform.python_version()}, torch {torch.__version__}; running as {user}"
    )


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (3)")
    parser.add_argument(
        "--only", choices=SECTIONS, action="append", help="this section only"
    )
    parser.add_argument(
        "--submissions", type=int, default=20, help="submissions to regrade (20)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "grade":
            found = child_grade(Path(rest[0]), Path(rest[1]))
        else:
            found = child_isolation(Path(rest[0]), rest[1], rest[2:] or None)
        print(RESULT_MARK + json.dumps(found), flush=True)
        return 0

    sections = args.only or list(SECTIONS)
    print("# Autograder benchmarks\n")
    print(f"Machine: {machine()}")
    print(f"Load average before: {load()}", flush=True)
    scratch = Path(tempfile.mkdtemp(prefix="dlag-bench-"))
    scratch.chmod(0o711)  # the worker reaches its run folders through it
    try:
        run_sections(sections, args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nLoad average after: {load()}")
    return 0


def run_sections(sections: list[str], args, scratch: Path) -> None:
    reports: list[dict] = []
    if "grading" in sections:
        reports = section_grading(args.runs, scratch)
    if "isolation" in sections:
        section_isolation(args.runs)
    if "regrade" in sections:
        section_regrade(args.runs, args.submissions, scratch)
    if "memory" in sections:
        section_memory(reports, args.runs, scratch)


if __name__ == "__main__":
    sys.exit(main())
