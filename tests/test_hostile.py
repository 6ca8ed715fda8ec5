"""Hostile and broken student code: whatever it tries, it earns no more than
honest code, nothing of the grader's reaches any output, results.json is the
grader's own, the run ends within its budget, and nothing it started or wrote
outlives the worker that ran it.

Each test grades small inline submissions against specs written to a
temporary folder, with timeouts of a few seconds; the sample submissions of
``submissions/hostile-*`` and ``submissions/broken-*`` are graded with the
real specs by the regression check (tests/test_samples.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import tempfile
import textwrap
import threading
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from autograder import accounts, checks, runner, sandbox
from autograder.checks import Verdict
from autograder.checks.values import describe
from autograder.errors import GraderError
from conftest import ROOT, by_number

AS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not AS_ROOT, reason="the user switch needs root")


@checks.check("hostile.returns")
def _returns(ctx) -> Verdict:
    """Call ``params.function`` with ``params.args``; pass on ``expected``."""
    function = ctx.param("function")
    found = ctx.call(function, *ctx.params.get("args", []))
    expected = ctx.param("expected")
    try:
        same = type(found) is type(expected) and bool(found == expected)
    except (TypeError, ValueError):
        same = False
    if same:
        return Verdict.passed(f"{function}() = {found!r}")
    return Verdict.failed(f"{function}() = {describe(found)}, expected {expected!r}")


@checks.check("hostile.results_file")
def _results_file(ctx) -> Verdict:
    """Read the results path while the run is still going."""
    text = Path(ctx.param("path")).read_text(encoding="utf-8")
    if "grading did not finish" in text:
        return Verdict.passed("results.json said: grading did not finish")
    return Verdict.failed(f"results.json held: {text[:200]}")


def write_specs(folder: Path, parts: dict[str, list[dict]], budget: float = 600):
    """A grader.yaml with small limits and one part spec per entry of
    ``parts``: part name -> tests, each a dict of the test's keys. The part's
    file is ``<part>.py``; tests default to the ``hostile.returns`` check."""
    folder.mkdir(exist_ok=True)
    (folder / "grader.yaml").write_text(
        "worker_user: dlag-worker\nthreads: 1\n"
        f"time_budget: {budget}\n"
        "limits: {memory_mb: 2048, output_kb: 2, answer_mb: 8, disk_mb: 64,"
        " startup_timeout: 60}\n"
    )
    for part, tests in parts.items():
        spec = {
            "part": part,
            "title": part,
            "file": f"{part}.py",
            "defaults": {"timeout": 3, "check": "hostile.returns"},
            "tests": tests,
        }
        (folder / f"{part}.yaml").write_text(json.dumps(spec, indent=1))
    return folder


def calls(*rows, start: int = 1, part_number: int = 9) -> list[dict]:
    """Tests that call a function of the hostile module: each row is
    (function, expected[, args[, extra test keys]])."""
    tests = []
    for index, row in enumerate(rows, start):
        function, expected, *rest = row
        args = rest[0] if rest else []
        extra = rest[1] if len(rest) > 1 else {}
        shown = ", ".join(str(arg) for arg in args)
        tests.append(
            {
                "id": f"t{index}",
                "number": f"{part_number}.{index}",
                "name": f"{function}({shown})" if args else function,
                "points": 1,
                "params": {"function": function, "args": args, "expected": expected},
                **extra,
            }
        )
    return tests


def grade_folder(folder: Path, specs: Path, results: Path) -> dict:
    document = runner.grade(folder, results, specs)
    assert json.loads(results.read_text(encoding="utf-8")) == document
    return document


def write_submission(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def alive(pid: int) -> bool:
    """Whether ``pid`` is a worker process (or a fork of one) still running."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = next(line for line in status.splitlines() if line.startswith("State:"))
    return "Z" not in state.split()[1] and b"dlag_worker" in cmdline


def printed_pids(output: str, label: str) -> list[int]:
    return [
        int(line.split(":", 1)[1])
        for line in output.splitlines()
        if line.startswith(label + ":")
    ]


# Forging ------------------------------------------------------------------

FORGER = """
import atexit, json, os, threading, time

RESULTS = {results!r}
FORGED = {{"score": 1000.0, "output": "forged", "tests": []}}


def _forge():
    try:
        with open(RESULTS + ".forged", "w") as handle:
            json.dump(FORGED, handle)
        os.replace(RESULTS + ".forged", RESULTS)
        return True
    except OSError:
        return False


def _keep_forging(seconds):
    end = time.time() + seconds
    while time.time() < end:
        _forge()
        time.sleep(0.02)


atexit.register(_forge)
threading.Thread(target=_keep_forging, args=(60,), daemon=True).start()


def forge():
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        child = os.fork()
        if child == 0:
            _keep_forging(20)
            os._exit(0)
        os.write(write, str(child).encode())
        os._exit(0)
    os.wait()
    print("left behind:", os.read(read, 32).decode())
    print("forged:", _forge())
    print(json.dumps(FORGED))
    return "forged"
"""


def tmp_modes():
    if not AS_ROOT:
        return [pytest.param(False, id="same user")]
    return [
        pytest.param(True, id="private tmp"),
        pytest.param(False, id="shared tmp"),
    ]


@pytest.mark.parametrize("private", tmp_modes())
def test_results_json_is_the_graders_whatever_the_code_writes(
    tmp_path, monkeypatch, private
):
    if not private:
        monkeypatch.setattr(sandbox, "_private_dirs_work", lambda: False)
    # A folder the worker's user may write to, without the sticky bit: the
    # worker can replace any file in it while it runs.
    shared = (
        Path(tempfile.mkdtemp(prefix="dlag-test-", dir="/tmp"))
        if AS_ROOT
        else tmp_path / "shared"
    )
    try:
        shared.mkdir(exist_ok=True)
        shared.chmod(0o777)
        results = shared / "results.json"
        specs = write_specs(
            tmp_path / "specs",
            {"hostile": calls(("forge", "ok"), ("forge", "ok"))},
        )
        folder = write_submission(
            tmp_path / "sub", {"hostile.py": FORGER.format(results=str(results))}
        )
        document = grade_folder(folder, specs, results)
        outputs = "\n".join(t["output"] for t in document["tests"])

        assert document["score"] == 0
        # While the run went on, the code could forge the file (in a shared
        # /tmp) or could not reach it (in its private /tmp) ...
        assert ("forged: True" in outputs) == (not private)
        # ... and after the run, nothing it started can: the threads, the
        # atexit hook and the children that left its session are gone.
        left = printed_pids(outputs, "left behind")
        assert len(left) == 2
        assert not [pid for pid in left if alive(pid)]
        time.sleep(1.0)  # a survivor would rewrite the file every 20 ms
        assert json.loads(results.read_text(encoding="utf-8")) == document
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_results_json_is_a_valid_document_while_the_run_goes_on(tmp_path):
    results = tmp_path / "results.json"
    tests = [
        {
            "id": "peek",
            "number": "9.1",
            "name": "peek",
            "points": 1,
            "check": "hostile.results_file",
            "params": {"path": str(results)},
        }
    ]
    specs = write_specs(tmp_path / "specs", {"peek": tests})
    folder = write_submission(tmp_path / "sub", {"notes.txt": "nothing"})
    document = grade_folder(folder, specs, results)
    assert by_number(document)["9.1"]["score"] == 1


# Leaks --------------------------------------------------------------------


def secret_lines(submission: Path) -> set[str]:
    """Lines of the grader's private files that no student output could
    contain by chance: the solution blocks of solutions/, the specs (but
    for test names, which results.json shows), and the checks, minus the
    lines of the submission itself and of the handout."""
    public = set()
    for folder in (submission, ROOT / "submissions" / "starter"):
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                text = path.read_text(encoding="utf-8", errors="replace")
                public.update(line.strip() for line in text.splitlines())
    found = set()
    for path in (ROOT / "solutions").glob("*.py"):
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if "# BEGIN SOLUTION" in line or "# END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside:
                found.add(line.strip())
    for path in (ROOT / "specs").glob("*.yaml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip().startswith(("name:", "- name:")):
                found.add(line.strip())
    for path in (ROOT / "autograder" / "checks").glob("*.py"):
        found.update(line.strip() for line in path.read_text().splitlines())
    return {line for line in found - public if len(line) >= 20}


def leaked(document: dict, secrets: set[str]) -> list[str]:
    shown = [document["output"]] + [
        text for t in document["tests"] for text in (t["output"], t["name"])
    ]
    text = "\n".join(shown)
    return sorted(line for line in secrets if line in text)


@contextmanager
def isolation_plan():
    """The plan a run would use, with a worker user of its own."""
    with accounts.worker_slot("dlag-worker") as account:
        yield sandbox.IsolationPlan(account)


def test_no_solution_file_is_ever_given_to_the_worker(tmp_path):
    folder = write_submission(tmp_path / "sub", {"x.py": "x = 1"})
    with pytest.raises(GraderError, match="holds solution"):
        sandbox.RunDir(folder, [ROOT / "solutions" / "attention.py"])


def test_the_leak_detector_finds_a_solution_line(tmp_path):
    secrets = secret_lines(write_submission(tmp_path / "sub", {"x.py": "x = 1"}))
    line = next(line for line in sorted(secrets) if "logit" in line)
    document = {"output": "", "tests": [{"name": "t", "output": f"found:\n{line}"}]}
    assert leaked(document, secrets) == [line]
    assert len(secrets) > 50


@needs_root
def test_code_that_reads_the_graders_files_finds_nothing_to_show(tmp_path):
    targets = sorted(
        str(p)
        for pattern in ("solutions/*.py", "specs/*.yaml", "autograder/checks/*.py")
        for p in ROOT.glob(pattern)
    )
    reader = f"""
    import os

    TARGETS = {targets!r}

    def steal():
        for path in TARGETS:
            try:
                with open(path) as handle:
                    print(handle.read())
            except OSError as exc:
                print(path, type(exc).__name__)
        for name in ("cwd", "root", "environ", "cmdline"):
            path = f"/proc/{{os.getppid()}}/{{name}}"
            try:
                print(os.listdir(path) if name in ("cwd", "root") else open(path).read())
            except OSError as exc:
                print(path, type(exc).__name__)
        return "ok"
    """
    specs = write_specs(tmp_path / "specs", {"hostile": calls(("steal", "ok"))})
    folder = write_submission(tmp_path / "sub", {"hostile.py": reader})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    output = by_number(document)["9.1"]["output"]
    # A tree under /tmp is hidden by the worker's private /tmp; elsewhere
    # its folder is private to root.
    refused = ("PermissionError", "FileNotFoundError")
    for path in targets:
        assert any(f"{path} {error}" in output for error in refused), path
    assert leaked(document, secret_lines(folder)) == []

    sample = ROOT / "submissions" / "hostile-read-secrets"
    document = runner.grade(sample, tmp_path / "sample.json", only=["attention"])
    shown = by_number(document)["3.1.1"]["output"]
    assert any(error in shown for error in refused)
    assert leaked(document, secret_lines(sample)) == []
    assert sum(t["score"] for t in document["tests"] if t["number"][:3] == "3.1") == 0


SNEAK = """
import os, time

PLACES = {places!r}
_memory = []


def _write_everywhere(secret):
    for place in PLACES:
        try:
            with open(os.path.join(os.path.expanduser(place), "remembered"), "w") as out:
                out.write(secret)
        except OSError:
            pass


def remember(secret):
    _memory.append(secret)
    _write_everywhere(secret)
    if os.fork() == 0:
        os.setsid()
        end = time.time() + 30
        while time.time() < end:
            _write_everywhere(secret)
            time.sleep(0.05)
        os._exit(0)
    return "ok"


def recall():
    found = list(_memory)
    time.sleep(0.2)
    for place in PLACES:
        try:
            with open(os.path.join(os.path.expanduser(place), "remembered")) as handle:
                found.append(handle.read())
        except OSError:
            pass
    print("recalled:", found)
    return "ok"
"""


@pytest.mark.parametrize("hidden", [True, False], ids=["hidden", "visible"])
def test_inputs_of_hidden_tests_never_reach_visible_output(tmp_path, hidden):
    places = ["~", "/tmp", "/var/tmp", "/dev/shm"] if AS_ROOT else ["~"]
    secret = "hidden-input-4417"
    first = {"visibility": "hidden" if hidden else "visible"}
    specs = write_specs(
        tmp_path / "specs",
        {
            "sneak": calls(("remember", "ok", [secret], first), ("recall", "ok")),
            "sneak2": calls(("recall", "ok"), start=3),
        },
    )
    code = SNEAK.format(places=places)
    folder = write_submission(tmp_path / "sub", {"sneak.py": code, "sneak2.py": code})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    tests = by_number(document)
    assert document["score"] == 3
    # A worker that only served visible tests remembers (the check can
    # fail); one that served a hidden test is never reused for a visible one.
    assert (secret in tests["9.2"]["output"]) == (not hidden)
    assert secret not in tests["9.3"]["output"]


# Exhaustion and escapes ---------------------------------------------------

EXHAUSTING = """
import ctypes, os, signal, sys, time

import numpy as np


def bomb():
    bytearray(16 * 2**30)
    return "ok"


def escape():
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        child = os.fork()
        if child == 0:
            time.sleep(120)
            os._exit(0)
        os.write(write, str(child).encode())
        os._exit(0)
    os.wait()
    print("left behind:", os.read(read, 32).decode())
    return "ok"


def flood():
    sys.stdout.write("x" * (100 * 2**20))
    return "ok"


def huge():
    return np.zeros(2_000_000)


def loop():
    while True:
        pass


def storm():
    started = []
    for _ in range(2000):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            os.setsid()
            time.sleep(120)
            os._exit(0)
        started.append(pid)
    print("\\n".join(f"stormed: {pid}" for pid in started))
    return "ok"


def c_sleep():
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    ctypes.CDLL(None).sleep(120)
    return "ok"


def after():
    return "ok"
"""


def test_exhausting_code_costs_only_its_own_tests(tmp_path):
    specs = write_specs(
        tmp_path / "specs",
        {
            "hostile": calls(
                ("bomb", "ok"),
                ("escape", "ok"),
                ("flood", "ok"),
                ("huge", "ok"),
                ("loop", "ok"),
                ("storm", "ok"),
                ("c_sleep", "ok"),
                ("after", "ok"),
            )
        },
    )
    folder = write_submission(tmp_path / "sub", {"hostile.py": EXHAUSTING})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    tests = {t["name"]: t for t in document["tests"]}
    scores = {name: t["score"] for name, t in tests.items()}
    assert scores == {
        "bomb": 0,
        "escape": 1,
        "flood": 1,
        "huge": 0,
        "loop": 0,
        "storm": 1,
        "c_sleep": 0,
        "after": 1,
    }
    assert tests["bomb"]["output"].startswith("bomb raised MemoryError")
    assert "more bytes of output not shown]" in tests["flood"]["output"]
    assert len(tests["flood"]["output"]) < 4000
    assert tests["huge"]["output"].startswith(
        "huge returned a value that could not be sent back: it is 20 MB once "
        "encoded; at most 8 MB is read"
    )
    assert tests["loop"]["output"].startswith("loop: did not finish within 3 s")
    assert tests["c_sleep"]["output"].startswith("c_sleep: did not finish within 3 s")
    outputs = "\n".join(t["output"] for t in document["tests"])
    started = printed_pids(outputs, "left behind") + printed_pids(outputs, "stormed")
    assert len(started) >= 2
    assert not [pid for pid in started if alive(pid)]
    assert not [t for t in document["tests"] if "grader-error" in t["tags"]]


FILLER = """
import os

TOKEN = {token!r}


def fill():
    print("home:", os.path.expanduser("~"))
    block = b"z" * 2**20
    for place in {places!r}:
        folder = os.path.expanduser(place)
        written = 0
        try:
            for index in range(16):
                name = os.path.join(folder, f"{{TOKEN}}-{{index}}")
                with open(name, "wb") as out:
                    for _ in range(16):
                        out.write(block)
                        written += 1
        except OSError as exc:
            print(f"{{place}}: {{written}} MB, then {{exc.strerror}}")
            continue
        print(f"{{place}}: {{written}} MB")
    return "ok"
"""


@pytest.mark.parametrize("private", tmp_modes())
def test_files_written_by_the_worker_are_bounded_and_removed(
    tmp_path, monkeypatch, private
):
    if not private:
        monkeypatch.setattr(sandbox, "_private_dirs_work", lambda: False)
    places = ["~", "/tmp", "/var/tmp", "/dev/shm"] if AS_ROOT else ["~"]
    token = f"dlag-fill-{os.getpid()}-{int(private)}"
    specs = write_specs(tmp_path / "specs", {"hostile": calls(("fill", "ok"))})
    code = FILLER.format(token=token, places=places)
    folder = write_submission(tmp_path / "sub", {"hostile.py": code})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    output = by_number(document)["9.1"]["output"]
    assert document["score"] == 1
    sizes = [int(size) for size in re.findall(r"^\S+: (\d+) MB", output, re.M)]
    assert len(sizes) == len(places)
    if private:
        # One tmpfs of disk_mb (64 MB) holds the home and every shared folder.
        assert "No space left on device" in output
        assert sum(sizes) <= 64
    else:
        assert sum(sizes) == 256 * len(places)
    home = output.split("home: ")[1].split()[0]
    assert not Path(home).exists()
    for place in places[1:]:
        assert not list(Path(place).glob(f"{token}-*"))


# Network ------------------------------------------------------------------


def test_no_connection_leaves_the_worker(tmp_path):
    with isolation_plan() as plan:
        if not plan.netns:
            pytest.skip("network namespaces are unavailable here")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                accepted.append(listener.accept())
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"""
    import socket

    def connect():
        reached = []
        for host, port in (("127.0.0.1", {port}), ("localhost", {port})):
            try:
                socket.create_connection((host, port), timeout=2).close()
                reached.append(f"{{host}}:{{port}}")
            except OSError:
                pass
        return ",".join(reached) or "nowhere"
    """
    try:
        specs = write_specs(
            tmp_path / "specs", {"hostile": calls(("connect", "nowhere"))}
        )
        folder = write_submission(tmp_path / "sub", {"hostile.py": code})
        document = grade_folder(folder, specs, tmp_path / "results.json")
    finally:
        done.set()
        thread.join()
        listener.close()
    assert accepted == []
    assert by_number(document)["9.1"]["score"] == 1, by_number(document)["9.1"]


# What crosses back --------------------------------------------------------

FRAMES = """
import os, struct, time

FRAMES = {
    "huge_int": b'{"ok": true, "value": ' + b"9" * 5000 + b"}",
    "deep": b"[" * 100000 + b"]" * 100000,
    "error_list": b'{"ok": false, "error": [1]}',
    "many_dims": b'{"ok": true, "value": {"__nd__": {"dtype": "float64", '
    b'"shape": [' + b", ".join([b"1"] * 70) + b'], "b64": "AAAAAAAAAAA="}}}',
    "list": b"[1, 2]",
}


def send(name):
    if name == "too_long":
        frame = struct.pack(">I", 2**31)
    else:
        frame = struct.pack(">I", len(FRAMES[name])) + FRAMES[name]
    for fd in range(3, 256):
        try:
            os.write(fd, frame)
        except OSError:
            pass
    time.sleep(2)
    return "ok"
"""


def test_forged_reply_frames_fail_only_their_test(tmp_path):
    names = ["huge_int", "deep", "error_list", "many_dims", "list", "too_long"]
    rows = [("send", "ok", [name]) for name in names] + [("send_nothing", "ok")]
    specs = write_specs(tmp_path / "specs", {"hostile": calls(*rows)})
    code = FRAMES + "\n\ndef send_nothing():\n    return 'ok'\n"
    folder = write_submission(tmp_path / "sub", {"hostile.py": code})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    tests = document["tests"]
    assert [t["score"] for t in tests] == [0] * len(names) + [1]
    for test in tests[:-1]:
        assert test["output"].startswith("send: ")
        assert (
            "the worker's answer" in test["output"]
            or "answered with" in (test["output"])
        )
        assert "grader-error" not in test["tags"]


TRICKY = """
import os

import numpy as np

GRADER = {pid}
MARKER = {marker!r}


def _ran(what):
    if os.getpid() == GRADER:
        with open(MARKER, "a") as out:
            out.write(what + "\\n")


class Payload:
    def __reduce__(self):
        _ran("__reduce__")
        return (os.system, ("true",))

    def __repr__(self):
        _ran("__repr__")
        return "Payload()"

    def __eq__(self, other):
        _ran("__eq__")
        return True

    __hash__ = object.__hash__

    def __float__(self):
        _ran("__float__")
        return 1.0

    def __array__(self, *args, **kwargs):
        _ran("__array__")
        raise TypeError("no")


class Sneaky(dict):
    def items(self):
        _ran("items")
        return [("x", Payload())]


class FakeTensor:
    requires_grad = False

    def detach(self):
        _ran("detach")
        return self

    def cpu(self):
        return self

    def numpy(self):
        return Payload()


FakeTensor.__module__ = "torch.fake"


class Always(str):
    def __eq__(self, other):
        _ran("str __eq__")
        return True

    __hash__ = str.__hash__


def payload():
    return Payload()


def sneaky():
    return Sneaky(a=1)


def huge_int():
    return 10**5000


def deep():
    nested = []
    for _ in range(100000):
        nested = [nested]
    return nested


def fake_tensor():
    return FakeTensor()


def objects():
    array = np.empty(2, dtype=object)
    array[0], array[1] = Payload(), Payload()
    return array


def generator():
    return (i for i in range(3))


def always():
    return Always("not ok")
"""


def test_returned_objects_never_run_in_the_grader(tmp_path):
    marker = tmp_path / "ran-in-the-grader"
    names = [
        "payload",
        "sneaky",
        "huge_int",
        "deep",
        "fake_tensor",
        "objects",
        "generator",
        "always",
    ]
    specs = write_specs(
        tmp_path / "specs", {"hostile": calls(*[(name, "ok") for name in names])}
    )
    code = TRICKY.format(pid=os.getpid(), marker=str(marker))
    folder = write_submission(tmp_path / "sub", {"hostile.py": code})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    outputs = {t["name"]: t["output"].splitlines()[0] for t in document["tests"]}
    assert document["score"] == 0
    assert not marker.exists()
    assert outputs == {
        "payload": "payload() = an object of type Payload, expected 'ok'",
        "sneaky": "sneaky() = a dict, expected 'ok'",
        "huge_int": "huge_int() = the number inf, expected 'ok'",
        "deep": "deep() = a list of 1 items, expected 'ok'",
        "fake_tensor": "fake_tensor returned a value that could not be sent back: "
        "encoding it raised AttributeError: 'Payload' object has no attribute "
        "'dtype'",
        "objects": "objects() = a numpy array of shape (2,) (float64), expected 'ok'",
        "generator": "generator() = an object of type generator, expected 'ok'",
        "always": "always() = the string 'not ok', expected 'ok'",
    }
    assert not [t for t in document["tests"] if "grader-error" in t["tags"]]


PATCHING = """
import math

import numpy as np
import torch


def _always(*args, **kwargs):
    return True


for _module, _names in (
    (np, ("allclose", "array_equal", "isfinite")),
    (torch, ("allclose", "equal", "isfinite")),
    (math, ("isclose", "isfinite")),
):
    for _name in _names:
        setattr(_module, _name, _always)
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
torch.testing.assert_close = lambda *args, **kwargs: None


def attention_weights(q, K):
    logits = K @ q
    e = torch.exp(logits - logits.max())
    return e / e.sum()


def attention(q, K, V):
    return torch.ones(V.shape[1], dtype=V.dtype)
"""


def test_patching_numpy_and_torch_in_the_worker_changes_no_comparison(tmp_path):
    params = {"sizes": [[3, 2, 2], [5, 4, 3]], "logit_scale": 2.0, "tolerance": 1e-8}
    tests = [
        {"id": "weights_values", "number": "3.1.1", "name": "w", "points": 1},
        {"id": "output_values", "number": "3.1.3", "name": "out", "points": 1},
    ]
    for test in tests:
        test.update(params={**params}, check=f"attention.{test['id']}")
    specs = write_specs(tmp_path / "specs", {"attention": tests})
    folder = write_submission(tmp_path / "sub", {"attention.py": PATCHING})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    tests = by_number(document)
    assert tests["3.1.1"]["score"] == 1
    assert tests["3.1.3"]["score"] == 0
    assert tests["3.1.3"]["output"].startswith("0 of 2 cases correct.")


# Malformed submissions ----------------------------------------------------

ECHO_PART = {"echo": calls(("echo", "ok", ["ok"]), part_number=8)}
ECHO = "def echo(x):\n    return x\n"


def test_a_zip_keeps_its_good_files_and_drops_the_rest(tmp_path):
    archive = tmp_path / "submission.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../../escape.py", "x = 1\n")
        bundle.writestr("/abs-escape.py", "x = 1\n")
        link = zipfile.ZipInfo("attention.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, str(ROOT / "solutions" / "attention.py"))
        bundle.writestr("corrupt.py", "y = 2\n" * 50)
        bundle.writestr("echo.py", ECHO)
    data = archive.read_bytes()
    spot = data.index(b"y = 2")
    archive.write_bytes(data[:spot] + b"Y" + data[spot + 1 :])
    specs = write_specs(tmp_path / "specs", ECHO_PART)
    document = grade_folder(archive, specs, tmp_path / "results.json")
    assert by_number(document)["8.1"]["score"] == 1
    notes = document["output"]
    assert "'../../escape.py', which points outside the submission folder" in notes
    assert "'/abs-escape.py', which points outside the submission folder" in notes
    assert "attention.py is a symbolic link and was ignored" in notes
    assert "corrupt.py could not be unpacked and was ignored (Bad CRC-32" in notes
    assert not Path("/escape.py").exists() and not Path("/abs-escape.py").exists()


def test_names_and_messages_that_are_not_utf8_still_give_a_results_file(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"notes-\xff.txt"), "wb") as out:
        out.write(b"\xff\xfe")
    (folder / "echo.py").write_text(
        "def echo(x):\n    raise ValueError('bad \\udcff byte')\n", encoding="utf-8"
    )
    specs = write_specs(
        tmp_path / "specs", {**ECHO_PART, "hostile": calls(("f", "ok"))}
    )
    document = grade_folder(folder, specs, tmp_path / "results.json")
    tests = by_number(document)
    assert tests["8.1"]["output"].startswith("echo raised ValueError: bad ? byte")
    assert tests["9.1"]["output"].startswith(
        "hostile.py was not found in your submission (it holds: echo.py, notes-?.txt)"
    )


# Time ---------------------------------------------------------------------


def test_the_time_budget_bounds_the_run(tmp_path):
    budget = 8
    specs = write_specs(
        tmp_path / "specs",
        {"hostile": calls(*[("loop", "ok")] * 4)},
        budget=budget,
    )
    folder = write_submission(tmp_path / "sub", {"hostile.py": EXHAUSTING})
    document = grade_folder(folder, specs, tmp_path / "results.json")
    outputs = [t["output"] for t in document["tests"]]
    assert document["score"] == 0
    assert outputs[0].startswith("loop: did not finish within 3 s")
    assert outputs[-1].startswith(
        f"Not run: the grading time budget of {budget} s was used up"
    )
    assert all("did not finish" in o or "time budget" in o for o in outputs)
    # The last call is cut at the budget; only the start of a worker (and
    # stopping it) can run past it.
    assert document["execution_time"] < budget + 30
