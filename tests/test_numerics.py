"""The numeric code paths: chosen by processor, pinned in the grader before
torch loads, and handed to every worker."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from autograder import numerics
from conftest import ROOT, by_number

ON_AVX2 = bool(numerics.paths_for(platform.machine(), numerics.cpu_flags()))
needs_avx2 = pytest.mark.skipif(not ON_AVX2, reason="this processor has no AVX2")


@pytest.mark.parametrize(
    ("machine", "flags", "expected"),
    [
        ("x86_64", {"sse2", "avx", "avx2", "avx512f"}, numerics.AVX2_PATHS),
        ("x86_64", {"sse2", "avx2"}, numerics.AVX2_PATHS),
        ("AMD64", {"avx2"}, numerics.AVX2_PATHS),
        ("x86_64", {"sse2", "avx"}, {}),
        ("aarch64", {"fp", "asimd", "avx2"}, {}),
        ("x86_64", set(), {}),
    ],
)
def test_the_avx2_paths_are_chosen_only_where_the_processor_has_avx2(
    machine, flags, expected
):
    assert numerics.paths_for(machine, flags) == expected


def test_cpu_flags_are_read_from_the_first_processor(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse2 avx2\n\n"
        "processor\t: 1\nflags\t\t: fpu\n",
        encoding="ascii",
    )
    assert numerics.cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2"}
    assert numerics.cpu_flags(tmp_path / "missing") == set()


@needs_avx2
def test_pin_keeps_what_staff_set_and_fills_the_rest():
    environ = {"MKL_CBWR": "COMPATIBLE", "PATH": "/bin"}
    in_force = numerics.pin(environ)
    assert in_force == {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_CBWR": "COMPATIBLE",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    }
    assert environ["PATH"] == "/bin"
    assert numerics.worker_variables(environ) == in_force


def run_python(program: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in numerics.AVX2_PATHS}
    environ["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", program],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )


@needs_avx2
@pytest.mark.parametrize(
    "first", ["import autograder, torch", "import torch, autograder"]
)
def test_torch_takes_the_avx2_kernels_when_the_grader_loads_before_it_computes(first):
    done = run_python(
        f"{first}, os\n"
        "print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'])"
    )
    assert done.stdout.split() == ["AVX2", "AVX2"]
    assert done.stderr == ""


@needs_avx2
def test_torch_that_computed_before_the_grader_loaded_is_reported():
    done = run_python(
        "import torch\ntorch.backends.cpu.get_cpu_capability()\nimport autograder"
    )
    chosen = run_python(
        "import torch; print(torch.backends.cpu.get_cpu_capability())"
    ).stdout.strip()
    if chosen == "AVX2":
        assert done.stderr == ""
    else:
        assert done.stderr.strip() == (
            "torch computed before autograder was imported: this process runs "
            f"on its {chosen} kernels, the workers on avx2"
        )


@needs_avx2
def test_the_worker_runs_on_the_graders_code_paths(grade):
    # A submission that prints, at import, what its process runs on: the
    # output reaches the feedback of the part's first test.
    source = (ROOT / "solutions" / "attention.py").read_text(encoding="utf-8")
    shown = (
        "import os as _os, torch as _torch\n"
        "print('paths:', _torch.backends.cpu.get_cpu_capability(),\n"
        "      *(_os.environ.get(k) for k in "
        f"{sorted(numerics.AVX2_PATHS)!r}))\n"
    )
    document = grade({"attention.py": shown + source}, parts=["attention"])
    first = min(by_number(document).values(), key=lambda test: test["number"])
    expected = [numerics.AVX2_PATHS[k] for k in sorted(numerics.AVX2_PATHS)]
    assert f"paths: AVX2 {' '.join(expected)}" in first["output"]
    assert first["score"] == first["max_score"]
