"""Measure the PSNR that the reference ``train`` of part 5 reaches, and its cost.

The autograder runs a student's ``train`` at a reduced side length R, for E
epochs of one full batch (batch size R²), on one thread with fixed seeds, and
grades the PSNR of the trained model. This script runs the reference
solution the same way, correct and with typical mistakes patched in, so
that the PSNR thresholds can be set with a margin between the two.

    python benchmarks/siren_calibration.py 64 500
    python benchmarks/siren_calibration.py 64 500 --only sin relu

PSNR is measured on the [-1, 1] scale with peak-to-peak 2:
``10 * log10(4 / MSE)``. "grid" evaluates the model on the standard grid of
``get_coords(R)``, as the autograder does; "own" evaluates it on the inputs
it was trained on, which differ only for the unnormalised-coordinates run.
Importing ``autograder`` first puts torch on the numeric code paths the
grader uses (``autograder/numerics.py``).
"""

import argparse
import contextlib
import importlib.util
import io
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import autograder  # noqa: E402, F401 - the grader's numeric code paths

SOLUTIONS = ROOT / "solutions"


def load_solution():
    """Import ``solutions/siren.py`` by path, with its ``siren_utils`` beside it."""
    sys.path.insert(0, str(SOLUTIONS))
    try:
        spec = importlib.util.spec_from_file_location(
            "siren_reference", SOLUTIONS / "siren.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SOLUTIONS))
    return module


@contextlib.contextmanager
def patched(obj, name, value):
    """Set ``obj.name = value`` for the duration of the block."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def mistake_patches(siren, mistake):
    """Return the context managers that put ``mistake`` into the reference."""
    layer = siren.SingleLayer
    original_init = layer.__init__
    adam = torch.optim.Adam

    def adam_at_1e_4(params, **kwargs):
        kwargs["lr"] = 1e-4
        return adam(params, **kwargs)

    def init_without_omega(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.omega = 1.0
        self.init_weights()

    def init_wrong_bound(self):
        fan_in = self.linear.in_features
        if self.is_first:
            bound = 1.0 / fan_in
        else:
            bound = math.sqrt(6.0) / (fan_in * self.omega)
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def integer_coords(sidelength, dim=2):
        grid = torch.arange(sidelength, dtype=torch.float32)
        axes = torch.meshgrid(*(dim * [grid]), indexing="ij")
        return torch.stack(axes, dim=-1).reshape(-1, dim)

    table = {
        "": [],
        "lr=1e-4": [patched(torch.optim, "Adam", adam_at_1e_4)],
        "omega=1": [patched(layer, "__init__", init_without_omega)],
        "bound=sqrt6/(in*omega)": [patched(layer, "init_weights", init_wrong_bound)],
        "integer coords": [patched(siren, "get_coords", integer_coords)],
        "no init": [patched(layer, "init_weights", lambda self: None)],
    }
    return table[mistake]


MISTAKES = [
    "",
    "lr=1e-4",
    "omega=1",
    "bound=sqrt6/(in*omega)",
    "integer coords",
    "no init",
]

# Each variant is an activation, then a mistake when there is one.
VARIANTS = [
    "sin",
    "sin lr=1e-4",
    "relu",
    "tanh",
    "sin omega=1",
    "sin bound=sqrt6/(in*omega)",
    "sin integer coords",
    "sin no init",
    "relu integer coords",
    "tanh integer coords",
]


def psnr(model, coords, pixels):
    """Return ``10 * log10(4 / MSE)`` of ``model(coords)`` against ``pixels``."""
    with torch.no_grad():
        mse = torch.mean((model(coords) - pixels) ** 2).item()
    return 10 * math.log10(4.0 / mse) if mse > 0 else math.inf


def run(siren, name, side, epochs, seed):
    """Train variant ``name`` once; return (grid PSNR, own PSNR, seconds)."""
    captured = {}
    original_dataset = siren.MyDataset

    def dataset_at_side(sidelength):
        captured["dataset"] = original_dataset(side)
        return captured["dataset"]

    def capture_model(model, *args, **kwargs):
        captured["model"] = model
        blank = torch.zeros(side, side).numpy()
        return blank, blank, blank

    activation, _, mistake = name.partition(" ")
    patches = mistake_patches(siren, mistake) + [
        patched(siren, "MyDataset", dataset_at_side),
        patched(siren, "model_results", capture_model),
        patched(siren.torch, "save", lambda *args, **kwargs: None),
    ]
    torch.manual_seed(seed)
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            siren.train(epochs, side * side, activation)
        seconds = time.perf_counter() - start

    model = captured["model"].eval()
    dataset = captured["dataset"]
    grid = siren.get_coords(side)
    pixels = dataset.pixels
    return (
        psnr(model, grid, pixels),
        psnr(model, dataset.coords, pixels),
        seconds,
    )


def parse_variant(text):
    """Check that ``text`` is an activation, optionally followed by a mistake."""
    activation, _, mistake = text.partition(" ")
    if activation not in ("sin", "relu", "tanh") or mistake not in MISTAKES:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected ACTIVATION [MISTAKE], with ACTIVATION one of "
            f"sin, relu, tanh and MISTAKE one of {', '.join(MISTAKES[1:])}"
        )
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("side", type=int, help="side length R of the target")
    parser.add_argument("epochs", type=int, help="epochs E, one full batch each")
    parser.add_argument(
        "--only", nargs="+", type=parse_variant, help='variants, e.g. "sin omega=1"'
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds")
    parser.add_argument(
        "--spread",
        type=int,
        nargs="*",
        default=[1, 2],
        help="extra seeds for plain sin when all variants run",
    )
    args = parser.parse_args()

    torch.set_num_threads(1)
    siren = load_solution()
    runs = [(name, seed) for name in args.only or VARIANTS for seed in args.seeds]
    if not args.only:
        runs += [("sin", seed) for seed in args.spread]

    print(f"R = {args.side}, E = {args.epochs}, full batch, 1 thread")
    print(f"{'variant':<30} {'seed':>4} {'grid dB':>8} {'own dB':>8} {'time s':>7}")
    for name, seed in runs:
        grid_db, own_db, seconds = run(siren, name, args.side, args.epochs, seed)
        print(
            f"{name:<30} {seed:>4} {grid_db:>8.2f} {own_db:>8.2f} {seconds:>7.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
