"""Student code that crashes, hangs, exits or floods costs only its own
tests: the worker is killed, the test fails with a clear message, and a
fresh worker serves the next test."""

from __future__ import annotations

import logging
import os
import signal
import textwrap

import pytest

from autograder import accounts, checks, sandbox
from autograder.checks import Verdict
from autograder.checks.values import as_scalar
from autograder.errors import GraderError
from conftest import by_number

GOOD_ATTENTION = """
import torch

def attention_weights(q, K):
    logits = K @ q
    e = torch.exp(logits - logits.max())
    return e / e.sum()

def attention(q, K, V):
    return attention_weights(q, K) @ V
"""

ECHO = """
def echo(x):
    return x
"""


@checks.check("echo.same")
def _echo_same(ctx) -> Verdict:
    found = as_scalar(ctx.call("echo", 7.5), "echo(7.5)")
    if found != 7.5:
        return Verdict.failed(f"echo(7.5) = {found}, expected 7.5")
    return Verdict.passed("echo(7.5) = 7.5")


@pytest.fixture
def specs(tmp_path):
    """Two parts: three attention tests with short timeouts, one echo test."""
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "grader.yaml").write_text(
        textwrap.dedent(
            """
            worker_user: dlag-worker
            threads: 1
            limits: {memory_mb: 2048, output_kb: 1, startup_timeout: 60}
            """
        )
    )
    (folder / "attention.yaml").write_text(
        textwrap.dedent(
            """
            part: attention
            title: attention
            file: attention.py
            defaults:
              timeout: 3
              params: {sizes: [[3, 2, 2]], logit_scale: 2.0, tolerance: 1.0e-8}
            tests:
              - {id: weights_values, number: "3.1.1", name: w1, points: 1}
              - {id: output_values, number: "3.1.3", name: out, points: 1}
              - {id: weights_stable, number: "3.1.2", name: w2, points: 1}
            """
        )
    )
    (folder / "echo.yaml").write_text(
        textwrap.dedent(
            """
            part: echo
            title: echo
            file: echo.py
            tests:
              - {id: same, number: "9.1", name: echo, points: 1, timeout: 3}
            """
        )
    )
    return folder


def scores(document):
    return {n: t["score"] for n, t in by_number(document).items()}


def test_good_code_gets_every_point(grade, specs):
    document = grade({"attention.py": GOOD_ATTENTION, "echo.py": ECHO}, specs=specs)
    assert scores(document) == {"3.1.1": 1, "3.1.3": 1, "3.1.2": 1, "9.1": 1}


BROKEN = [
    (
        "raise ValueError('boom')",
        "attention_weights raised ValueError: boom (at attention.py, line 5, "
        "in attention_weights)",
    ),
    ("while True: pass", "attention_weights: did not finish within 3 s"),
    ("import time; time.sleep(60)", "attention_weights: did not finish within 3 s"),
    (
        "import sys; sys.exit(3)",
        "attention_weights raised SystemExit: 3 (at attention.py, line 5, in "
        "attention_weights)",
    ),
    (
        "import os; os._exit(4)",
        "attention_weights: the process running your code exited with status 4",
    ),
    (
        "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)",
        "attention_weights: the process running your code was killed by SIGSEGV",
    ),
    (
        "x = bytearray(4 * 1024 ** 3)",
        "attention_weights raised MemoryError:  (at attention.py, line 5, in "
        "attention_weights)",
    ),
]


@pytest.mark.parametrize(("body", "message"), BROKEN)
def test_a_broken_function_costs_only_its_own_tests(grade, specs, body, message):
    source = GOOD_ATTENTION.replace(
        "def attention_weights(q, K):\n",
        f"def attention_weights(q, K):\n    {body}\n",
    ).replace("return attention_weights(q, K) @ V", "return _weights(q, K) @ V")
    source += textwrap.dedent(
        """
        def _weights(q, K):
            logits = K @ q
            e = torch.exp(logits - logits.max())
            return e / e.sum()
        """
    )
    document = grade({"attention.py": source, "echo.py": ECHO}, specs=specs)
    tests = by_number(document)
    assert scores(document) == {"3.1.1": 0, "3.1.3": 1, "3.1.2": 0, "9.1": 1}
    assert tests["3.1.1"]["output"].startswith(message + "\n")
    assert tests["3.1.2"]["output"].startswith(message + "\n")
    assert "grader-error" not in tests["3.1.1"]["tags"]


IMPORT_FAILURES = [
    (
        "def attention_weights(q, K)\n    return q\n",
        "attention.py could not be imported: SyntaxError: expected ':' "
        "(at attention.py, line 1)",
    ),
    (
        "import not_a_module_anywhere\n",
        "attention.py could not be imported: ModuleNotFoundError: No module named "
        "'not_a_module_anywhere' (at attention.py, line 1)",
    ),
    (
        "raise SystemExit(2)\n",
        "attention.py could not be imported: SystemExit: 2 (at attention.py, line 1)",
    ),
    ("while True:\n    pass\n", "importing attention.py: did not finish within 3 s"),
]


@pytest.mark.parametrize(("source", "message"), IMPORT_FAILURES)
def test_a_file_that_cannot_be_imported_costs_only_its_part(
    grade, specs, source, message
):
    document = grade({"attention.py": source, "echo.py": ECHO}, specs=specs)
    tests = by_number(document)
    assert scores(document) == {"3.1.1": 0, "3.1.3": 0, "3.1.2": 0, "9.1": 1}
    for number in ("3.1.1", "3.1.2", "3.1.3"):
        assert tests[number]["output"].startswith(message)


def test_a_missing_file_names_the_file_and_what_was_found(grade, specs):
    document = grade({"echo.py": ECHO, "notes.txt": "hi"}, specs=specs)
    output = by_number(document)["3.1.1"]["output"]
    assert output.startswith(
        "attention.py was not found in your submission (it holds: echo.py, notes.txt)"
    )
    assert scores(document)["9.1"] == 1


def test_printed_output_is_shown_and_bounded(grade, specs):
    source = GOOD_ATTENTION.replace(
        "def attention(q, K, V):\n",
        "def attention(q, K, V):\n    print('hello from attention')\n"
        "    print('x' * 100000)\n",
    )
    document = grade({"attention.py": source, "echo.py": ECHO}, specs=specs)
    output = by_number(document)["3.1.3"]["output"]
    assert "Output of your code during this test:\nhello from attention" in output
    assert "more bytes of output not shown]" in output
    assert len(output) < 2000
    assert scores(document)["3.1.3"] == 1


def test_garbage_on_the_reply_channel_fails_only_that_test(grade, specs):
    source = GOOD_ATTENTION.replace(
        "def attention_weights(q, K):\n",
        "def attention_weights(q, K):\n"
        "    import os, struct\n"
        "    for fd in range(3, 256):\n"
        "        try:\n"
        "            os.write(fd, struct.pack('>I', 5) + b'{\"a\":')\n"
        "        except OSError:\n"
        "            pass\n",
    )
    document = grade({"attention.py": source, "echo.py": ECHO}, specs=specs)
    tests = by_number(document)
    assert tests["3.1.1"]["score"] == 0
    assert "the worker's answer could not be read" in tests["3.1.1"]["output"]
    assert scores(document)["9.1"] == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="the user switch needs root")
def test_as_root_the_worker_cannot_read_the_grader_or_reach_the_network(grade, specs):
    import socket
    import threading

    from autograder.runner import ROOT

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted = []

    def accept():
        listener.settimeout(8)
        try:
            accepted.append(listener.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    probe = f"""
    import os, socket

    def echo(x):
        found = []
        try:
            open({str(ROOT / "solutions" / "attention.py")!r}).read()
            found.append("read solutions")
        except OSError:
            pass
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2)
            found.append("connected")
        except OSError:
            pass
        if os.getuid() == 0:
            found.append("root")
        return x if not found else str(found)
    """
    document = grade({"echo.py": probe}, specs=specs)
    thread.join()
    listener.close()
    assert accepted == []
    assert by_number(document)["9.1"]["score"] == 1, by_number(document)["9.1"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        (
            {"cpu/cpu.cfs_quota_us": "25000\n", "cpu/cpu.cfs_period_us": "100000\n"},
            0.25,
        ),
        (
            {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"},
            None,
        ),
        ({"cpu.max": "1000000 100000\n"}, None),
        ({}, None),
    ],
)
def test_the_cpus_available_are_bounded_by_a_cgroup_quota(tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="ascii")
    affinity = len(os.sched_getaffinity(0))
    found = sandbox.cpus_available(tmp_path)
    assert found == (affinity if expected is None else min(expected, affinity))


def test_a_worker_launched_ahead_that_died_is_replaced(tmp_path, caplog):
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "echo.py").write_text(ECHO, encoding="utf-8")
    limits = sandbox.Limits(memory_mb=2048)
    with accounts.worker_slot("dlag-worker") as account:
        plan = sandbox.IsolationPlan(account)
        rundir = sandbox.RunDir(folder, [])
        worker = sandbox.Worker(plan, rundir, limits, threads=1)
        try:
            worker.launch()
            assert worker.alive and not worker.ready
            os.killpg(worker.process.pid, signal.SIGKILL)
            worker.process.wait()
            with caplog.at_level(logging.WARNING, logger="autograder.sandbox"):
                reply = worker.request(
                    {"probe": "import", "args": {"module": "echo"}, "seed": 0},
                    timeout=60,
                )
            assert reply.message["ok"] is True
            assert worker.ready
            assert caplog.messages == [
                "a worker launched ahead stopped before it was used (return code "
                "-9); launching another"
            ]
        finally:
            worker.stop()
            rundir.remove()


@pytest.mark.skipif(os.geteuid() != 0, reason="private folders need root")
def test_an_environment_under_a_private_folder_is_refused(monkeypatch):
    monkeypatch.setattr(sandbox, "worker_python", lambda: "/tmp/env/bin/python")
    with accounts.worker_slot("dlag-worker") as account:
        try:
            plan = sandbox.IsolationPlan(account)
        except GraderError as exc:
            assert str(exc) == (
                "the Python environment of /tmp/env/bin/python lies under /tmp, "
                "which each worker sees as a private, empty folder: install it "
                "elsewhere (setup.sh takes DLAG_VENV)"
            )
        else:
            assert not plan.private_dirs, "a private /tmp hides the interpreter"
