"""Run the reference ``train`` of part 5 exactly as test 5.4 grades it.

For every fit test of ``specs/siren.yaml`` (or those named), the reference
solution's ``train`` runs through the worker's own ``fit_at`` in this
process, at the test's side length, epochs and seed, on one thread; the
PSNR is measured on the grader's grid as the check measures it. The output
gives the PSNR beside the ``reference_psnr`` stored in the spec, the wall
and CPU seconds, and whether the run clears the threshold.

    python benchmarks/siren_budget.py                 # the spec's seeds
    python benchmarks/siren_budget.py fit_sin --seeds 0 1 2 --lr 1e-4

``--seeds`` and ``--lr`` explore other seeds and learning rates, and
``--sidelength`` and ``--epochs`` other budgets (the stored figure is only
for the spec's budget and seed and the reference's learning rate).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder import spec  # noqa: E402
from autograder.checks import siren  # noqa: E402


@contextlib.contextmanager
def learning_rate(value: float | None):
    """Make every Adam optimiser use ``value`` (nothing changes for None)."""
    if value is None:
        yield
        return
    adam = torch.optim.Adam

    def fixed(params, **kwargs):
        kwargs["lr"] = value
        return adam(params, **kwargs)

    torch.optim.Adam = fixed
    try:
        yield
    finally:
        torch.optim.Adam = adam


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="*", help="test ids (default: every fit)")
    parser.add_argument("--seeds", type=int, nargs="+", help="seeds to run instead")
    parser.add_argument("--lr", type=float, help="learning rate instead of 1e-3")
    parser.add_argument("--sidelength", type=int, help="R instead of the spec's")
    parser.add_argument("--epochs", type=int, help="E instead of the spec's")
    args = parser.parse_args()

    part = spec.load_part(ROOT / "specs" / "siren.yaml", spec.Limits())
    tests = [t for t in part.tests if t.check == "siren.fit"]
    if args.tests:
        tests = [t for t in tests if t.id in args.tests]
    print(f"{'test':<10} {'R':>3} {'E':>4} {'seed':>5} {'dB':>7} {'stored':>7}", end="")
    print(f" {'wall s':>7} {'cpu s':>6}  pass")
    for test in tests:
        p = dict(test.params)
        p["sidelength"] = args.sidelength or p["sidelength"]
        p["epochs"] = args.epochs or p["epochs"]
        for seed in args.seeds or [test.seed]:
            started = time.process_time()
            with learning_rate(args.lr):
                value, seconds = siren.reference_fit(
                    p["sidelength"], p["epochs"], p["activation"], seed
                )
            cpu = time.process_time() - started
            verdict = "yes" if value >= p["threshold"] else "NO"
            print(
                f"{test.id:<10} {p['sidelength']:>3} {p['epochs']:>4} {seed:>5} "
                f"{value:>7.2f} {p['reference_psnr']:>7.2f} {seconds:>7.2f} "
                f"{cpu:>6.2f}  {verdict}",
                flush=True,
            )


if __name__ == "__main__":
    main()
