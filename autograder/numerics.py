"""The numeric code paths of torch, fixed so that grades and feedback do not
depend on which x86-64 processor the grader runs on.

torch picks its kernels by what the processor offers: ATen's vectorised
loops (AVX2 or AVX-512), MKL's matrix products and oneDNN's convolutions.
Each choice rounds differently, and a training run amplifies the
difference: on one AVX-512 processor, the reference SIREN fit of 5.4.1
(same seed and budget) ends at 44.2 dB with the kernels torch picks
itself, at 47.0 dB with MKL's AVX2 code and at 41.9 dB with MKL's AVX2 code
and ATen's plain loops. On every processor with AVX2, this module makes
all three libraries use their AVX2 code, MKL in its conditional numerical
reproducibility mode, which MKL documents as giving the same results on
every processor that runs that code; ATen's and oneDNN's AVX2 kernels are
the same instructions wherever they run. So a grading on an AVX-512
processor computes what it computes on an AVX2 one. The libraries read
their variables at their first computation: the grader's process sets them
when ``autograder`` is imported, and every worker gets the same variables.

Processors without AVX2, and other architectures (an ARM laptop), keep
torch's own choice. Grades should still hold there, as the thresholds of
the specs sit 3.5 dB or more from what correct and broken code reached in
calibration, but a PSNR there can differ from the figures stored in the
specs, and shown in the feedback, by a few dB.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
from collections.abc import MutableMapping
from pathlib import Path

log = logging.getLogger(__name__)

# The variables and the AVX2 value each library reads; MKL's is its
# conditional numerical reproducibility branch.
AVX2_PATHS = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The feature flags of the first processor listed, or none."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as stream:
            for line in stream:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def paths_for(machine: str, flags: set[str]) -> dict[str, str]:
    """The variables to set on a processor of this kind, or none."""
    if machine.lower() in ("x86_64", "amd64") and "avx2" in flags:
        return dict(AVX2_PATHS)
    return {}


def pin(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Set the variables of this processor where they are not set already;
    return the values now in force.

    Values already in the environment are kept, so staff can choose another
    path, and the workers then inherit that choice (``worker_variables``).
    """
    wanted = paths_for(platform.machine(), cpu_flags())
    if not wanted:
        log.info(
            "numeric code paths left to torch: no AVX2 on this %s processor",
            platform.machine(),
        )
    for key, value in wanted.items():
        environ.setdefault(key, value)
    if wanted and "torch" in sys.modules and environ is os.environ:
        _check_torch(environ["ATEN_CPU_CAPABILITY"])
    return worker_variables(environ)


def _check_torch(capability: str) -> None:
    """Warn when torch chose its kernels before the variables were set.

    The libraries read them at their first computation, not at import: a
    process that imported torch first is still pinned unless it computed.
    """
    torch = sys.modules["torch"]
    chosen = torch.backends.cpu.get_cpu_capability()
    if chosen.lower() != capability.lower():
        log.warning(
            "torch computed before autograder was imported: this process runs "
            "on its %s kernels, the workers on %s",
            chosen,
            capability,
        )


def worker_variables(environ: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """The code-path variables of this process, for a worker's environment."""
    return {key: environ[key] for key in AVX2_PATHS if key in environ}
