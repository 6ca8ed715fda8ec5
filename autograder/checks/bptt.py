"""Checks of part 2, backpropagation through time (``bptt.py``).

The cases are drawn from the test's seeded generator: for every activation,
every sequence length in ``params.lengths`` runs once with |w| in
``params.small_w`` (vanishing) and once with |w| in ``params.large_w``
(exploding), of random sign, with inputs from N(0, 1). The reference values
come from ``solutions/bptt.py`` run here in float64 on the same inputs.

Credit comes per activation: each earns its share in ``params.credit`` when
all its cases are right. A value passes when it is within ``params.rtol``
of the reference, relative to a bound on the rounding error of the
recursion (``_forward_scale``, ``_grad_w_scale``): a relu unit that is off
must give exactly 0.

``grad_w`` and ``grad_h1`` run under the worker's ``autograd.call`` probe:
one use of autograd in any case gives 0 for the test.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..errors import GraderError, StudentError
from ..worker.protocol import TensorArray
from . import Verdict, cases, check
from .values import as_scalar, as_vector, fmt, require_finite

SIGMA = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "sigmoid": (
        lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
        lambda z: 0.25 * (1.0 - np.tanh(0.5 * z) ** 2),
    ),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
}
QUESTION = {"grad_w": "2.3", "grad_h1": "2.4"}


class AutogradUsed(Exception):
    """The student's gradient function used autograd; ends the test."""


def _inputs(ctx, activation: str) -> list[tuple[float, np.ndarray]]:
    """(w, xs) of every case of one activation, from the test's generator."""
    drawn = []
    for length in ctx.param("lengths"):
        for low, high in (ctx.param("small_w"), ctx.param("large_w")):
            w = float(ctx.rng.uniform(low, high) * ctx.rng.choice([-1.0, 1.0]))
            drawn.append((w, ctx.rng.standard_normal(int(length))))
    return drawn


def _inputs_of_sigma(w: float, xs: np.ndarray, hs: np.ndarray) -> np.ndarray:
    """z_t = h_{t−1} + x_t, from the reference's hidden states."""
    return xs + np.concatenate([[0.0], hs[:-1]])


def _forward_scale(w, xs, hs, activation) -> np.ndarray:
    """How large rounding differences of h_t may get: each step adds its own
    (the size of the numbers it combines) to the earlier ones, scaled by
    |w·σ'(z_t)|."""
    _, slope = SIGMA[activation]
    zs = _inputs_of_sigma(w, xs, hs)
    gains = np.abs(w * slope(zs))
    previous = np.abs(np.concatenate([[0.0], hs[:-1]]))
    bound = np.empty_like(hs)
    carried = 0.0
    for t in range(len(hs)):
        carried = (
            gains[t] * carried + abs(hs[t]) + gains[t] * (previous[t] + abs(xs[t]))
        )
        bound[t] = carried
    return bound


def _grad_w_scale(w, xs, hs, activation) -> float:
    """The recursion of ∂h_t/∂w with every term taken by its size."""
    sigma, slope = SIGMA[activation]
    total = 0.0
    for z in _inputs_of_sigma(w, xs, hs):
        total = abs(sigma(z)) + abs(w * slope(z)) * total
    return total


def _label(function: str, w: float, xs: np.ndarray, activation: str) -> str:
    return f"{function}(w={fmt(w)}, xs of length {len(xs)}, {activation!r})"


def _grouped(ctx, function: str, judge) -> Verdict:
    """Run every activation's cases; each earns its credit when all pass."""
    credit = ctx.param("credit")
    if not math.isclose(sum(credit.values()), 1.0) or set(credit) - set(SIGMA):
        raise GraderError(
            f"{ctx.part.source}: params.credit of {ctx.test.id!r} must give shares "
            f"of {', '.join(SIGMA)} adding up to 1, found {credit}"
        )
    fraction = 0.0
    summaries = []
    outcomes = []
    for activation, share in credit.items():
        runs = []
        for w, xs in _inputs(ctx, activation):
            label = _label(function, w, xs, activation)
            runs.append((label, functools.partial(judge, w, xs, activation, label)))
        outcome = cases.run(function, runs, True, shown=ctx.param("shown_failures"))
        complete = outcome.passed == outcome.total
        fraction += share if complete else 0.0
        earned = "earns" if complete else "misses"
        summaries.append(
            f"{activation}: {outcome.passed} of {outcome.total} cases correct "
            f"({earned} its {share:.0%} of the points)"
        )
        outcomes.append(outcome)
    commons = {outcome.common for outcome in outcomes}
    if len(commons) == 1 and None not in commons:
        # The same failure everywhere (often: not implemented yet) is said once.
        total = sum(outcome.total for outcome in outcomes)
        return Verdict(0.0, [f"{commons.pop()} (in all {total} cases)"])
    lines = []
    for summary, outcome in zip(summaries, outcomes, strict=True):
        lines += [summary] + [f"  {line}" for line in outcome.lines]
    return Verdict(fraction, lines)


def _reference(ctx, function: str, w: float, xs: np.ndarray, activation: str):
    return getattr(ctx.reference, function)(w, torch.from_numpy(xs), activation)


def _args(w: float, xs: np.ndarray, activation: str) -> list:
    return [w, TensorArray(np.asarray(xs, dtype=np.float64)), activation]


@check("bptt.rnn_forward")
def rnn_forward(ctx) -> Verdict:
    """2.2: h_1 … h_T against the reference."""
    rtol = ctx.param("rtol")

    def judge(w, xs, activation, label):
        value = cases.call(ctx, "rnn_forward", *_args(w, xs, activation))
        found = as_vector(value, label, length=len(xs))
        require_finite(found, label)
        expected = _reference(ctx, "rnn_forward", w, xs, activation).numpy()
        allowed = rtol * _forward_scale(w, xs, expected, activation)
        wrong = np.abs(found - expected) > allowed
        if not wrong.any():
            return None
        t = int(np.argmax(wrong))
        return (
            f"{label}: h_{t + 1} = {fmt(found[t])}, expected {fmt(expected[t])} "
            f"(wrong at {int(wrong.sum())} of {len(xs)} steps)"
        )

    return _grouped(ctx, "rnn_forward", judge)


def _gradient(ctx, function: str, scale) -> Verdict:
    """A gradient function, called under the autograd watch."""
    rtol = ctx.param("rtol")

    def judge(w, xs, activation, label):
        reply = cases.probe(
            ctx,
            "autograd.call",
            module=ctx.module,
            function=function,
            args=_args(w, xs, activation),
        )
        if reply["autograd"]:
            raise AutogradUsed(reply["autograd"][0])
        found = as_scalar(reply["value"], label)
        if not math.isfinite(found):
            raise StudentError(f"{label}: returned {found}, expected a finite number")
        expected = float(_reference(ctx, function, w, xs, activation))
        hs = _reference(ctx, "rnn_forward", w, xs, activation).numpy()
        if abs(found - expected) <= rtol * scale(w, xs, hs, activation, expected):
            return None
        return f"{label}: returned {fmt(found)}, expected {fmt(expected)}"

    try:
        return _grouped(ctx, function, judge)
    except AutogradUsed as exc:
        return Verdict.failed(
            f"{function} used autograd ({exc}): {QUESTION[function]} asks for the "
            "gradient from your own recursion, without torch.autograd or "
            ".backward(), so this test gets 0 points."
        )


@check("bptt.grad_w")
def grad_w(ctx) -> Verdict:
    """2.3: ∂h_T/∂w through every step, without autograd."""
    return _gradient(
        ctx,
        "grad_w",
        lambda w, xs, hs, activation, _: _grad_w_scale(w, xs, hs, activation),
    )


@check("bptt.grad_h1")
def grad_h1(ctx) -> Verdict:
    """2.4: ∂h_T/∂h_1, a product of T − 1 factors, without autograd."""
    return _gradient(ctx, "grad_h1", lambda w, xs, hs, activation, value: abs(value))
