"""Checks of part 1, hand-built networks (``construction.py``).

The weights are never compared with the reference: many weight choices are
correct (unit order, positive rescaling, extra dead units). The grader
evaluates the function they compute, f(x) = w1ᵀ σ(w0·x + b), in float64 and
compares it with the target on points that cover every region of it. For
``square_net`` the error is the exact supremum of |f(x) − x²| over [lo, hi],
found from the breakpoints of the piecewise-linear f (see ``networks``).

Feedback of a visible test shows the inputs and a point where f is wrong
("hat_net(): f(0) = 3, expected 6"); a test of any other visibility never
shows its inputs.
"""

from __future__ import annotations

import numpy as np

from ..errors import StudentError
from ..worker.protocol import TensorArray
from . import Verdict, cases, check
from .networks import relu_net, sigmoid_net, square_error
from .values import as_vector, describe, fmt, require_finite

ORDINALS = {2: "two", 3: "three"}


def _size(value) -> int:
    """How many numbers a returned vector holds, without converting it."""
    if isinstance(value, TensorArray):
        return int(value.array.size)
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1


def network(
    ctx, value, call: str, names: tuple[str, ...], width: int | None = None
) -> list[np.ndarray]:
    """The weight vectors of a returned network, checked for form and size.

    ``call`` names the call in messages; ``width`` is the number of hidden
    units the question fixes, if any. Networks wider than
    ``params.max_width`` are refused before anything is evaluated.
    """
    form = f"({', '.join(names)}), {ORDINALS[len(names)]} vectors of the same length"
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise StudentError(f"{call}: expected {form}; found {describe(value)}")
    limit = int(ctx.param("max_width"))
    largest = max(_size(item) for item in value)
    if largest > limit:
        raise StudentError(
            f"{call}: returned a network with {largest} hidden units; networks of "
            f"at most {limit} units are graded, so that evaluating them stays "
            "within the grader's memory"
        )
    vectors = [
        as_vector(item, f"{call}: {name}", length=width)
        for item, name in zip(value, names, strict=True)
    ]
    lengths = [len(v) for v in vectors]
    if len(set(lengths)) > 1:
        found = ", ".join(str(n) for n in lengths)
        raise StudentError(f"{call}: expected {form}; found lengths {found}")
    for vector, name in zip(vectors, names, strict=True):
        require_finite(vector, f"{call}: {name}")
    return vectors


def points(ctx) -> np.ndarray:
    """The spec's fixed points and ``params.random_points`` drawn points."""
    fixed = np.asarray(ctx.param("test_points"), dtype=np.float64)
    drawn = ctx.param("random_scale") * ctx.rng.standard_normal(
        int(ctx.param("random_points"))
    )
    return np.concatenate([fixed, drawn])


def _visible(ctx) -> bool:
    return ctx.test.visibility == "visible"


def compare(
    ctx,
    call: str,
    xs: np.ndarray,
    found: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
) -> str | None:
    """None when f matches the target at every point; else what is wrong.

    A point passes when |f(x) − target| is within ``params.tolerance`` times
    the size of the numbers involved: the target, and the terms w1_i·σ_i(x)
    that f adds up (which cancel in some constructions), the latter counted
    up to ``params.cancellation`` times the target so that huge cancelling
    units cannot widen the tolerance at will.
    """
    tolerance = ctx.param("tolerance")
    size = np.maximum(1.0, np.abs(expected))
    allowed = tolerance * np.maximum(
        size, np.minimum(scale, ctx.param("cancellation") * size)
    )
    gap = np.abs(found - expected)
    wrong = ~(gap <= allowed)
    if not wrong.any():
        return None
    count = f"wrong at {int(wrong.sum())} of {len(xs)} test points"
    if not _visible(ctx):
        return f"{call}: {count}; the largest difference is {fmt(np.nanmax(gap))}"
    # Show the point nearest 0 among those about as wrong as the worst one.
    relative = np.where(wrong, gap / size, -1.0)
    relative[np.isnan(relative)] = np.inf
    shown = relative >= 0.25 * relative.max()
    worst = int(np.argmin(np.where(shown, np.abs(xs), np.inf)))
    return (
        f"{call}: f({fmt(xs[worst])}) = {fmt(found[worst])}, expected "
        f"{fmt(expected[worst])} ({count})"
    )


def _label(ctx, function: str, args: tuple, index: int, count: int) -> str:
    if _visible(ctx):
        return f"{function}({', '.join(fmt(a) for a in args)})"
    return f"{function}, hidden case {index + 1} of {count}"


def _with_drawn(ctx, fixed: list, draw) -> list:
    """The spec's cases, then ``params.random_cases`` cases from ``draw``."""
    return fixed + [draw() for _ in range(int(ctx.params.get("random_cases", 0)))]


def _whole_line(ctx, function: str, names: tuple, width, target, evaluate) -> Verdict:
    """A network without inputs (1.1, 1.4) against the target function."""
    call = f"{function}()"
    weights = network(ctx, ctx.call(function), call, names, width=width)
    xs = points(ctx)
    found, scale = evaluate(weights, xs)
    problem = compare(ctx, call, xs, found, target(xs), scale)
    if problem:
        return Verdict.failed(problem)
    return Verdict.passed(f"{call}: correct at all {len(xs)} test points.")


@check("construction.identity_net")
def identity_net(ctx) -> Verdict:
    """1.1: a ReLU network with b = 0 that computes x on all of ℝ."""
    return _whole_line(
        ctx,
        "identity_net",
        ("w0", "w1"),
        None,
        lambda xs: xs,
        lambda w, xs: relu_net(w[0], np.zeros_like(w[0]), w[1], xs),
    )


@check("construction.hat_net")
def hat_net(ctx) -> Verdict:
    """1.4: three ReLU units computing max(0, 6 − 3·|x|)."""
    return _whole_line(
        ctx,
        "hat_net",
        ("w0", "b", "w1"),
        3,
        lambda xs: np.maximum(0.0, 6.0 - 3.0 * np.abs(xs)),
        lambda w, xs: relu_net(*w, xs),
    )


@check("construction.linear_net")
def linear_net(ctx) -> Verdict:
    """1.2: a ReLU network computing m·x + c, for several (m, c)."""
    fixed = [tuple(map(float, case)) for case in ctx.param("cases")]
    drawn = _with_drawn(
        ctx, fixed, lambda: tuple(float(v) for v in 5.0 * ctx.rng.standard_normal(2))
    )
    xs = points(ctx)

    def judge(m, c, label):
        value = cases.call(ctx, "linear_net", m, c)
        w0, b, w1 = network(ctx, value, label, ("w0", "b", "w1"))
        found, scale = relu_net(w0, b, w1, xs)
        return compare(ctx, label, xs, found, m * xs + c, scale)

    return _run(ctx, "linear_net", drawn, judge)


@check("construction.constant_net")
def constant_net(ctx) -> Verdict:
    """1.3: a sigmoid network with b = 0 computing the constant c."""
    fixed = [(float(c),) for c in ctx.param("cases")]
    drawn = _with_drawn(ctx, fixed, lambda: (float(10.0 * ctx.rng.standard_normal()),))
    xs = points(ctx)

    def judge(c, label):
        value = cases.call(ctx, "constant_net", c)
        w0, w1 = network(ctx, value, label, ("w0", "w1"))
        found, scale = sigmoid_net(w0, w1, xs)
        return compare(ctx, label, xs, found, np.full_like(xs, c), scale)

    return _run(ctx, "constant_net", drawn, judge)


@check("construction.square_net")
def square_net(ctx) -> Verdict:
    """1.7: sup |f(x) − x²| < eps over [lo, hi], for several intervals."""
    fixed = [tuple(map(float, case)) for case in ctx.param("cases")]
    samples = int(ctx.param("samples"))

    def judge(eps, lo, hi, label):
        value = cases.call(ctx, "square_net", eps, lo, hi)
        w0, b, w1 = network(ctx, value, label, ("w0", "b", "w1"))
        extra = ctx.rng.uniform(lo, hi, samples)
        error, where = square_error(w0, b, w1, lo, hi, extra)
        if error < eps:
            return None
        if not _visible(ctx):
            return f"{label}: sup |f(x) - x²| over [lo, hi] is {fmt(error / eps)} × eps"
        return (
            f"{label}: sup |f(x) - x²| over [{fmt(lo)}, {fmt(hi)}] is {fmt(error)} "
            f"at x = {fmt(where)}; expected below eps = {fmt(eps)}"
        )

    return _run(ctx, "square_net", fixed, judge)


def _run(ctx, function: str, inputs: list[tuple], judge) -> Verdict:
    """Every input tuple is one case of equal weight."""
    runs = []
    for index, args in enumerate(inputs):
        label = _label(ctx, function, args, index, len(inputs))
        runs.append((label, lambda args=args, label=label: judge(*args, label)))
    return cases.run(function, runs, _visible(ctx)).verdict()
