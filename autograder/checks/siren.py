"""Checks of part 5, image overfitting with a SIREN (``siren.py``).

5.1 builds ``SingleLayer`` in the worker and compares its linear layer,
omega and forward pass with ``solutions/siren.py`` under the same weights
(omega is read from an attribute ``omega``, ``omega_0``, ``omega0`` or
``w0``; a layer without one is judged on its forward pass only);
5.2 tests the weights ``init_weights`` draws against their uniform law;
5.3 compares ``MyDataset`` with the grader's own coordinates and pixels.

5.4 runs the student's own ``train`` through the worker's ``siren.fit``
probe at the side length and budget of the spec, with the grader's
``siren_utils``, and computes the PSNR of the trained model on the grader's
coordinate grid against the grader's pixels: ``10·log10(4 / MSE)`` on the
[−1, 1] scale. The reference's PSNR under the same budget is stored in the
spec (measured by ``benchmarks/siren_budget.py``, re-measured by the tests);
running it again at grading time would double the cost. The reconstruction
is saved beside the target as a PNG next to results.json, for staff.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import GraderError, StudentError, StudentException
from ..worker.probes import siren as siren_probe
from ..worker.protocol import TensorArray
from . import Verdict, cases, check, reference_module
from .values import as_array, describe, fmt, require_finite, worst_difference

log = logging.getLogger(__name__)

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"
ACTIVATIONS = {
    "sin": np.sin,
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    None: lambda z: z,
}
PICTURE_SCALE = 4  # pixels of the saved PNG per pixel of the target
HINTS = {
    "sin": "To check: omega = 30 multiplies linear(x) inside the sine (5.1), the "
    "initialisation (5.2), the pairs of MyDataset (5.3), the loss between the "
    "model's output and the pixels, and a learning rate from 1e-4 to 1e-3.",
    None: "To check: the pairs of MyDataset (5.3), the loss between the model's "
    "output and the pixels, and a learning rate from 1e-4 to 1e-3.",
}


def _utils(reference):
    """The ``siren_utils`` module the reference solution imported."""
    return sys.modules[reference.get_coords.__module__]


def _call_text(args) -> str:
    in_features, out_features, activation, bias, is_first = args
    return (
        f"SingleLayer({in_features}, {out_features}, {activation!r}, "
        f"bias={bias}, is_first={is_first})"
    )


def _reference_layer(ctx, args):
    return ctx.reference.SingleLayer(*args)


# 5.1 SingleLayer


@check("siren.layer_structure")
def layer_structure(ctx) -> Verdict:
    """One nn.Linear of the given sizes and bias flag; omega 30 for sin."""
    runs = []
    for args in ctx.param("cases"):
        label = _call_text(args)

        def judge(args=args, label=label):
            found = cases.probe(
                ctx, "siren.layer", module=ctx.module, function="SingleLayer", args=args
            )
            expected = _reference_layer(ctx, args)
            return _layer_problem(found, expected, args)

        runs.append((label, judge))
    return cases.run("SingleLayer", runs, True).verdict()


def _layer_problem(found: dict, expected, args) -> str | None:
    in_features, out_features, _, bias, _ = args
    linears = found["linears"]
    want = f"nn.Linear({in_features}, {out_features}, bias={bias})"
    if len(linears) != 1:
        return f"holds {len(linears)} nn.Linear modules; expected one, {want}"
    (linear,) = linears
    have = (
        f"nn.Linear({linear['in_features']}, {linear['out_features']}, "
        f"bias={linear['bias']})"
    )
    if have != want:
        return f"its linear layer is {have}; expected {want}"
    omega = float(expected.omega)
    if found["omega"] is not None and not math.isclose(found["omega"], omega):
        return (
            f"{found['omega_name']} = {fmt(found['omega'])}, expected {fmt(omega)} "
            '(30 for "sin", 1 for any other activation)'
        )
    return None


def _linear_inputs(ctx, args, batch: int):
    in_features, out_features, _, bias, _ = args
    weight = ctx.rng.standard_normal((out_features, in_features)) / math.sqrt(
        in_features
    )
    offset = 0.1 * ctx.rng.standard_normal(out_features) if bias else None
    inputs = ctx.rng.uniform(-1.0, 1.0, (batch, in_features))
    return weight, offset, inputs


def _reference_forward(ctx, args, weight, offset, inputs) -> np.ndarray:
    layer = _reference_layer(ctx, args).double()
    with torch.no_grad():
        layer.linear.weight.copy_(torch.from_numpy(weight))
        if offset is not None:
            layer.linear.bias.copy_(torch.from_numpy(offset))
        return layer(torch.from_numpy(inputs)).numpy()


def _forward_guesses(args, omega, weight, offset, inputs) -> dict[str, np.ndarray]:
    """What common slips compute, by what the feedback calls them."""
    activation = args[2]
    act = ACTIVATIONS[activation]
    linear = inputs @ weight.T + (0.0 if offset is None else offset)
    guesses = {}
    if omega != 1.0:
        guesses["act(linear(x)): omega is not applied"] = act(linear)
    if omega != 30.0:
        guesses["act(30 · linear(x)): omega is 30, expected 1 here"] = act(30 * linear)
    guesses["omega · act(linear(x)): omega must multiply before the activation"] = (
        omega * act(linear)
    )
    if activation is not None:
        guesses["omega · linear(x): the activation is not applied"] = omega * linear
    if offset is not None:
        guesses["act(omega · x Wᵀ): the bias is left out"] = act(
            omega * inputs @ weight.T
        )
    for name, other in ACTIVATIONS.items():
        if name != activation:
            shown = "no activation" if name is None else f"{name}"
            guesses[f"{shown} in place of {activation}"] = other(omega * linear)
    return guesses


@check("siren.layer_forward")
def layer_forward(ctx) -> Verdict:
    """forward(x) = act(omega · linear(x)) against the reference."""
    tolerance = ctx.param("tolerance")
    batch = int(ctx.param("batch"))
    runs = []
    for args in ctx.param("cases"):
        label = f"{_call_text(args)}.forward"
        weight, offset, inputs = _linear_inputs(ctx, args, batch)

        def judge(args=args, label=label, weight=weight, offset=offset, inputs=inputs):
            found = cases.probe(
                ctx,
                "siren.layer_forward",
                module=ctx.module,
                function="SingleLayer",
                args=args,
                weight=TensorArray(weight),
                bias=None if offset is None else TensorArray(offset),
                inputs=TensorArray(inputs),
            )
            expected = _reference_forward(ctx, args, weight, offset, inputs)
            found = as_array(found, label, f"an array of shape {expected.shape}")
            if found.shape != expected.shape:
                return f"returned shape {found.shape}, expected {expected.shape}"
            require_finite(found, label)
            scale = tolerance * max(1.0, float(np.max(np.abs(expected))))
            if np.allclose(found, expected, rtol=tolerance, atol=scale):
                return None
            gap, index = worst_difference(found, expected)
            problem = (
                f"output{list(index)} = {fmt(found[index])}, expected "
                f"{fmt(expected[index])} = act(omega · linear(x)) (difference "
                f"{fmt(gap)})"
            )
            omega = float(_reference_layer(ctx, args).omega)
            for name, guess in _forward_guesses(
                args, omega, weight, offset, inputs
            ).items():
                if np.allclose(found, guess, rtol=tolerance, atol=scale):
                    return f"{problem}; it computes {name}"
            return problem

        runs.append((label, judge))
    return cases.run("SingleLayer.forward", runs, True).verdict()


@check("siren.layer_activation")
def layer_activation(ctx) -> Verdict:
    """An unknown activation name raises ValueError."""
    runs = []
    for name in ctx.param("unknown"):
        args = [3, 4, name, True, False]
        label = _call_text(args)

        def judge(args=args):
            try:
                ctx.call("SingleLayer", *args)
            except StudentException as exc:
                if exc.exc_type == "ValueError":
                    return None
                return (
                    f"raised {exc.exc_type}: {exc.exc_message}; expected a "
                    "ValueError for an unknown activation name"
                )
            return "did not raise; expected a ValueError for an unknown activation name"

        runs.append((label, judge))
    return cases.run("SingleLayer", runs, True).verdict()


# 5.2 init_weights


def false_fail_bound(n: int, delta: float, square: float, mean: float) -> float:
    """Probability that n correct U(−a, a) weights fail one case at most.

    The largest weight stays below a(1 − δ) with probability (1 − δ/2)^n,
    and so does minus the smallest; Hoeffding's inequality bounds the chance
    that the mean of w² strays from a²/3 by more than ``square``·a²/3
    (terms in [0, a²]) or the mean of w from 0 by more than ``mean``·a
    (terms in [−a, a]).
    """
    reach = 2 * (1 - delta / 2) ** n
    spread = 2 * math.exp(-2 * n * (square / 3) ** 2)
    centre = 2 * math.exp(-n * mean**2 / 2)
    return reach + spread + centre


def _bounds(args) -> dict[str, float]:
    """The bound the handout asks for, then common wrong ones, by name."""
    in_features, _, activation, _, is_first = args
    omega = 30.0 if activation == "sin" else 1.0
    right = 1 / in_features if is_first else math.sqrt(6 / in_features) / omega
    named = {"the bound asked for": right}
    named["√6/(in·ω)"] = math.sqrt(6) / (in_features * omega)
    named["√(6/in), without dividing by ω"] = math.sqrt(6 / in_features)
    named["√(6/in)/ω, which is for the layers after the first"] = (
        math.sqrt(6 / in_features) / omega
    )
    named["1/in, which is for the first layer only"] = 1 / in_features
    named["1/√in, PyTorch's default: the weights were not redrawn"] = 1 / math.sqrt(
        in_features
    )
    return named


def _bound_text(args) -> str:
    in_features, _, activation, _, is_first = args
    if is_first:
        return f"1/in = 1/{in_features}"
    omega = 30 if activation == "sin" else 1
    return f"√(6/in)/ω = √(6/{in_features})/{omega}"


def _weights_problem(weights, args, params) -> str | None:
    in_features, out_features = args[0], args[1]
    label = "the weight"
    weights = as_array(
        weights, label, f"a matrix of shape ({out_features}, {in_features})"
    )
    if weights.shape != (out_features, in_features):
        return (
            f"the weight has shape {weights.shape}, expected "
            f"({out_features}, {in_features})"
        )
    require_finite(weights, label)
    bounds = _bounds(args)
    a = bounds["the bound asked for"]
    delta = params["delta"]
    largest = float(np.max(np.abs(weights)))
    where = f"max |w| = {fmt(largest)}; the bound is {_bound_text(args)} = {fmt(a)}"
    if largest > a * (1 + params["rounding"]) or largest < a * (1 - delta):
        for name, bound in list(bounds.items())[1:]:
            if bound * (1 - delta) <= largest <= bound * (1 + params["rounding"]):
                if not math.isclose(bound, a):
                    return f"{where}: the weights follow {name}"
        if largest > a:
            return f"{where}: some weights lie outside [−bound, bound]"
        return (
            f"{where}: the weights should reach within {fmt(100 * delta)}% of it "
            f"(a U(−bound, bound) sample of {weights.size} weights fails this "
            f"with probability below {params['per_case']:.0e})"
        )
    if min(-float(weights.min()), float(weights.max())) < a * (1 - delta):
        return (
            f"the weights lie in [{fmt(float(weights.min()))}, "
            f"{fmt(float(weights.max()))}]; expected both ends near ±{fmt(a)}"
        )
    square = float(np.mean(weights**2)) / (a * a / 3)
    if abs(square - 1) > params["square"]:
        return (
            f"mean of w² = {fmt(square)}·a²/3 with a = {fmt(a)}; a uniform law on "
            f"[−a, a] gives a²/3 (within {fmt(100 * params['square'])}% here): "
            "the weights are not uniform"
        )
    centre = float(np.mean(weights)) / a
    if abs(centre) > params["mean"]:
        return f"the mean weight is {fmt(centre)}·a; expected near 0"
    return None


@check("siren.init_weights")
def init_weights(ctx) -> Verdict:
    """Weights inside ±bound and reaching close to it (statistical test)."""
    params = {
        key: float(ctx.param(key)) for key in ("delta", "rounding", "square", "mean")
    }
    sizes = [args[0] * args[1] for args in ctx.param("cases")]
    per_case = max(
        false_fail_bound(n, params["delta"], params["square"], params["mean"])
        for n in sizes
    )
    if per_case * len(sizes) > float(ctx.param("max_false_fail")):
        raise GraderError(
            f"{ctx.part.source}: the 5.2 parameters give a false-fail probability "
            f"of {per_case * len(sizes):.2g}, above max_false_fail"
        )
    params["per_case"] = per_case
    runs = []
    for args in ctx.param("cases"):
        label = f"{_call_text(args)} weights"

        def judge(args=args):
            found = cases.probe(
                ctx,
                "siren.init_weights",
                module=ctx.module,
                function="SingleLayer",
                args=args,
            )
            problem = _weights_problem(found["built"], args, params)
            if problem is None or found["again"] is None:
                return problem
            if _weights_problem(found["again"], args, params) is None:
                return (
                    f"{problem}; after one more call of init_weights() they are "
                    "right: __init__ must call self.init_weights() after creating "
                    "the linear layer"
                )
            return problem

        runs.append((label, judge))
    return cases.run("init_weights", runs, True).verdict()


# 5.3 MyDataset


def _grid(ctx, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The grader's coordinates (s², 2) and pixels (s², 1), float32."""
    utils = _utils(ctx.reference)
    return utils.get_coords(side).numpy(), utils.get_cameraman_tensor(side).numpy()


def _item_problem(item, idx: int, coords, pixels, tolerance: float) -> str | None:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return f"item {idx} is {describe(item)}; expected a pair (coordinate, pixel)"
    first, second = (as_array(part, f"item {idx}", "a tensor") for part in item)
    if first.shape == (1,) and second.shape == (2,):
        return (
            f"item {idx} is (pixel, coordinate); expected (coordinate, pixel), "
            "the order train unpacks"
        )
    if first.shape != (2,):
        return f"the coordinate of item {idx} has shape {first.shape}, expected (2,)"
    if second.shape != (1,):
        return f"the pixel of item {idx} has shape {second.shape}, expected (1,)"
    if not np.allclose(first, coords[idx], atol=tolerance, rtol=0):
        text = f"({fmt(first[0])}, {fmt(first[1])})"
        if np.max(np.abs(first)) > 1 + tolerance:
            return (
                f"the coordinate of item {idx} is {text}, outside [−1, 1]²; "
                f"expected coords[{idx}] = ({fmt(coords[idx][0])}, "
                f"{fmt(coords[idx][1])}) from get_coords"
            )
        return (
            f"the coordinate of item {idx} is {text}, expected coords[{idx}] = "
            f"({fmt(coords[idx][0])}, {fmt(coords[idx][1])})"
        )
    if not np.allclose(second, pixels[idx], atol=tolerance, rtol=0):
        return (
            f"the pixel of item {idx} is {fmt(second[0])}, expected pixels[{idx}] "
            f"= {fmt(pixels[idx][0])}"
        )
    return None


@check("siren.dataset")
def dataset(ctx) -> Verdict:
    """Length s² and items (coords[idx], pixels[idx]) for the grader's data."""
    tolerance = float(ctx.param("tolerance"))
    runs = []
    for side in ctx.param("sidelengths"):
        side = int(side)
        count = side * side
        drawn = ctx.rng.choice(count, int(ctx.param("random_items")), replace=False)
        indices = sorted({0, count - 1, *(int(i) for i in drawn)})
        label = f"MyDataset({side})"

        def judge(side=side, indices=indices, count=count):
            found = cases.probe(
                ctx,
                "siren.dataset",
                module=ctx.module,
                function="MyDataset",
                sidelength=side,
                indices=indices,
            )
            if found["length"] != count:
                return f"len = {found['length']}, expected {side}² = {count}"
            coords, pixels = _grid(ctx, side)
            for idx, item in zip(indices, found["items"], strict=True):
                problem = _item_problem(item, idx, coords, pixels, tolerance)
                if problem:
                    return problem
            return None

        runs.append((label, judge))
    return cases.run("MyDataset", runs, True).verdict()


# 5.4 the image fit


def psnr(prediction: np.ndarray, target: np.ndarray) -> float:
    """10·log10(4 / MSE): PSNR on the [−1, 1] scale, peak-to-peak 2."""
    difference = np.asarray(prediction, np.float64).reshape(-1) - np.asarray(
        target, np.float64
    ).reshape(-1)
    mse = float(np.mean(difference**2))
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)


def _as_image(values: np.ndarray, side: int) -> np.ndarray:
    gray = (np.clip(values.reshape(side, side), -1, 1) + 1) / 2 * 255
    return np.rint(gray).astype(np.uint8)


def save_picture(path: Path, target: np.ndarray, fitted: np.ndarray, side: int) -> None:
    """The target and the reconstruction side by side, enlarged, as a PNG."""
    gap = np.full((side, max(1, side // 16)), 255, dtype=np.uint8)
    row = np.hstack([_as_image(target, side), gap, _as_image(fitted, side)])
    picture = Image.fromarray(row, mode="L")
    picture = picture.resize(
        (row.shape[1] * PICTURE_SCALE, side * PICTURE_SCALE), Image.NEAREST
    )
    picture.save(path)


def _keep_picture(ctx, target, fitted, side: int) -> None:
    if ctx.artifacts is None:
        return
    name = f"siren-{ctx.test.number}-{ctx.param('activation')}.png"
    try:
        save_picture(Path(ctx.artifacts) / name, target, fitted, side)
    except OSError:
        log.warning("could not save %s in %s", name, ctx.artifacts, exc_info=True)


def _prediction(value, side: int, what: str) -> np.ndarray:
    array = as_array(value, what, f"an array of shape ({side * side}, 1)")
    if array.size != side * side:
        raise StudentError(
            f"{what} has shape {array.shape}; expected ({side * side}, 1)"
        )
    array = array.reshape(-1)
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise StudentError(
            f"{what} holds {bad} values that are NaN or infinite: the training "
            "diverged (is the learning rate too large?)"
        )
    return array


def _own_hint(own, threshold: float, side: int) -> str | None:
    """A hint when the model fits its own inputs but not the grader's grid."""
    if own is None:
        return None
    try:
        prediction = _prediction(own["prediction"], side, "own")
        targets = as_array(own["targets"], "own").reshape(-1)
    except StudentError:
        return None
    if targets.size != prediction.size:
        return None
    value = psnr(prediction, targets)
    low, high = own["low"], own["high"]
    if value < threshold or (low >= -1.01 and high <= 1.01):
        return None
    return (
        f"On the inputs your MyDataset gives, which run from {fmt(low)} to "
        f"{fmt(high)}, the model reaches {value:.1f} dB; the grader evaluates it "
        "on the grid of get_coords, in [−1, 1]. The coordinates must be "
        "self.coords."
    )


@check("siren.fit")
def fit(ctx) -> Verdict:
    """5.4: the student's train at the grader's budget; PSNR of the result."""
    side = int(ctx.param("sidelength"))
    epochs = int(ctx.param("epochs"))
    activation = ctx.param("activation")
    threshold = float(ctx.param("threshold"))
    reference = float(ctx.param("reference_psnr"))
    coords, pixels = _grid(ctx, side)
    run = (
        f"train({epochs}, {side * side}, {activation!r}) on the {side}×{side} "
        f"target ({epochs} epochs of one full batch, seed {ctx.test.seed})"
    )
    try:
        reply = ctx.probe(
            "siren.fit",
            module=ctx.module,
            function="train",
            sidelength=side,
            epochs=epochs,
            activation=activation,
            seed=ctx.test.seed,
            coords=TensorArray(coords),
        )
    except StudentError as exc:
        raise StudentError(f"Running {run}: {exc}") from None
    fitted = _prediction(
        reply["prediction"], side, f"the output of the model trained by {run}"
    )
    value = psnr(fitted, pixels)
    _keep_picture(ctx, pixels, fitted, side)
    where = (
        "the model passed to model_results"
        if reply["source"] == "model_results"
        else f"the model saved in {reply['source']}"
    )
    lines = [
        f"PSNR {value:.1f} dB; it must reach {threshold:g} dB. The reference "
        f"solution reaches {reference:.1f} dB with the same budget.",
        f"The grader ran {run} and measured {where} on the grid of get_coords "
        f"({reply['seconds']:.1f} s of training).",
    ]
    if reply["warnings"]:
        lines.append("Warnings during train:\n" + "\n".join(reply["warnings"]))
    if reply["printed"]:
        lines.append("The last lines train printed:\n" + "\n".join(reply["printed"]))
    if reply["error"]:
        lines.append(
            f"train raised {reply['error']} after training; {where} was graded."
        )
    if value >= threshold:
        return Verdict.passed(*lines)
    hint = _own_hint(reply["own"], threshold, side)
    if hint:
        lines.append(hint)
    else:
        lines.append(HINTS.get(activation, HINTS[None]))
    return Verdict.failed(*lines)


def reference_fit(
    sidelength: int,
    epochs: int,
    activation: str,
    seed: int,
    solutions: Path = SOLUTIONS,
) -> tuple[float, float]:
    """PSNR and seconds of the reference ``train`` run as 5.4 runs it.

    Runs in this process on one thread, in a temporary working folder, with
    the reference's ``siren_utils``; for the benchmark and the tests.
    """
    reference = reference_module(solutions, "siren")
    utils = _utils(reference)
    threads = torch.get_num_threads()
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        torch.set_num_threads(1)
        try:
            run = siren_probe.fit_at(
                reference, utils, sidelength, epochs, activation, seed
            )
        finally:
            torch.set_num_threads(threads)
            os.chdir(here)
    if run.model is None:
        raise GraderError(f"the reference train found no model: {run.error!r}")
    coords = utils.get_coords(sidelength)
    pixels = utils.get_cameraman_tensor(sidelength).numpy()
    prediction = siren_probe.predict(run.model, coords).numpy()
    return psnr(prediction, pixels), run.seconds
