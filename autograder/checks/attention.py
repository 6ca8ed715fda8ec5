"""Checks of part 3, attention (``attention.py``).

Inputs are drawn from the test's seeded generator and sent as float64
tensors; the reference values come from ``solutions/attention.py`` run here
on the same inputs. Feedback names the case by its sizes and scale, never
by its values.

The queries of 3.2 and 3.3 are judged by what they do: the grader computes
the attention output of the student's q with the reference softmax, for
several value matrices. The cost of 3.5 is measured by the worker's
``memory.call`` probe at a size where a dense n × n intermediate cannot fit
in the worker's memory limit.
"""

from __future__ import annotations

import numpy as np
import torch

from ..worker.protocol import TensorArray
from . import Verdict, cases, check
from .values import (
    as_vector,
    close,
    fmt,
    require_finite,
    with_shape,
    worst_difference,
)


def _tensor(array: np.ndarray) -> TensorArray:
    return TensorArray(np.asarray(array, dtype=np.float64))


def _cases(ctx, scale: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(q, K, V) triples of the sizes in ``params.sizes``, logits of ``scale``."""
    cases = []
    for n, d, d_v in ctx.param("sizes"):
        K = ctx.rng.standard_normal((n, d))
        q = ctx.rng.standard_normal(d)
        logits = K @ q
        q *= scale / max(np.abs(logits).max(), 1e-12)
        V = ctx.rng.standard_normal((n, d_v))
        cases.append((q, K, V))
    return cases


def _compare_weights(ctx, scale: float, label: str) -> Verdict:
    tolerance = ctx.param("tolerance")
    passed = 0
    lines = []
    cases = _cases(ctx, scale)
    for q, K, _ in cases:
        n, d = K.shape
        found = as_vector(
            ctx.call("attention_weights", _tensor(q), _tensor(K)),
            "attention_weights(q, K)",
            length=n,
        )
        require_finite(found, f"attention_weights with n={n}, d={d}{label}")
        expected = ctx.reference.attention_weights(
            torch.from_numpy(q), torch.from_numpy(K)
        ).numpy()
        if close(found, expected, atol=tolerance, rtol=tolerance):
            passed += 1
            continue
        gap, index = worst_difference(found, expected)
        lines.append(
            f"attention_weights with n={n}, d={d}{label}: α[{index[0]}] = "
            f"{fmt(found[index])}, expected {fmt(expected[index])} "
            f"(difference {fmt(gap)}, tolerance {fmt(tolerance)})"
        )
    lines.insert(0, f"{passed} of {len(cases)} cases correct.")
    return Verdict(passed / len(cases), lines)


@check("attention.weights_values")
def weights_values(ctx) -> Verdict:
    """α on random queries and keys with moderate logits."""
    return _compare_weights(ctx, ctx.param("logit_scale"), "")


@check("attention.weights_stable")
def weights_stable(ctx) -> Verdict:
    """α stays finite and correct when |k_iᵀq| reaches 10⁴."""
    scale = ctx.param("logit_scale")
    return _compare_weights(ctx, scale, f", logits up to {scale:g}")


@check("attention.output_values")
def output_values(ctx) -> Verdict:
    """c = Σ α_i v_i against the reference."""
    tolerance = ctx.param("tolerance")
    passed = 0
    lines = []
    cases = _cases(ctx, ctx.param("logit_scale"))
    for q, K, V in cases:
        n, d = K.shape
        d_v = V.shape[1]
        found = as_vector(
            ctx.call("attention", _tensor(q), _tensor(K), _tensor(V)),
            "attention(q, K, V)",
            length=d_v,
        )
        require_finite(found, f"attention with n={n}, d={d}, d_v={d_v}")
        expected = ctx.reference.attention(
            torch.from_numpy(q), torch.from_numpy(K), torch.from_numpy(V)
        ).numpy()
        if close(found, expected, atol=tolerance, rtol=tolerance):
            passed += 1
            continue
        gap, index = worst_difference(found, expected)
        lines.append(
            f"attention with n={n}, d={d}, d_v={d_v}: c[{index[0]}] = "
            f"{fmt(found[index])}, expected {fmt(expected[index])} "
            f"(difference {fmt(gap)}, tolerance {fmt(tolerance)})"
        )
    lines.insert(0, f"{passed} of {len(cases)} cases correct.")
    return Verdict(passed / len(cases), lines)


def _orthogonal_keys(ctx, n: int, d: int, norm: float) -> np.ndarray:
    """n orthogonal keys in d dimensions (n <= d), each of the given norm."""
    basis, _ = np.linalg.qr(ctx.rng.standard_normal((d, d)))
    return norm * basis[:n]


def _key_sets(ctx):
    """(K, values, description) for every [n, d, norm] of params.key_sets."""
    for n, d, norm in ctx.param("key_sets"):
        K = _orthogonal_keys(ctx, n, d, norm)
        values = [
            ctx.rng.standard_normal((n, ctx.param("value_dim")))
            for _ in range(ctx.param("values_per_query"))
        ]
        yield K, values, f"{n} orthogonal keys of norm {norm:g} in d={d}"


def _query_judge(ctx, function: str, K, values, label, args, target, name):
    """Call a query function; its q must give c = target(V) for every V."""
    tolerance = ctx.param("tolerance")
    n, d = K.shape

    def judge():
        q = as_vector(cases.call(ctx, function, _tensor(K), *args), label, length=d)
        require_finite(q, label)
        alpha = ctx.reference.attention_weights(
            torch.from_numpy(q), torch.from_numpy(K)
        ).numpy()
        for V in values:
            expected = target(V)
            gap = float(np.max(np.abs(alpha @ V - expected)))
            allowed = tolerance * max(1.0, float(np.max(np.abs(expected))))
            if not gap <= allowed:
                weights = ", ".join(f"α_{i} = {fmt(alpha[i])}" for i in args)
                return (
                    f"{label}: c differs from {name} by {fmt(gap)} (tolerance "
                    f"{fmt(allowed)}); your q gives {weights}"
                )
        return None

    return judge


@check("attention.copy_query")
def copy_query(ctx) -> Verdict:
    """3.2: q with c ≈ v_i for every V, for orthogonal keys of equal norm."""
    runs = []
    for K, values, keys in _key_sets(ctx):
        for i in range(K.shape[0]):
            label = f"copy_query(K, {i}) for {keys}"
            judge = _query_judge(
                ctx, "copy_query", K, values, label, (i,), lambda V, i=i: V[i], f"v_{i}"
            )
            runs.append((label, judge))
    return cases.run("copy_query", runs, True).verdict()


@check("attention.average_query")
def average_query(ctx) -> Verdict:
    """3.3: q with c ≈ (v_i + v_j)/2 for every V, same keys as 3.2."""
    runs = []
    for K, values, keys in _key_sets(ctx):
        n = K.shape[0]
        pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
        for index in ctx.rng.permutation(len(pairs))[: ctx.param("pairs_per_set")]:
            i, j = pairs[index]
            label = f"average_query(K, {i}, {j}) for {keys}"
            judge = _query_judge(
                ctx,
                "average_query",
                K,
                values,
                label,
                (i, j),
                lambda V, i=i, j=j: (V[i] + V[j]) / 2,
                f"(v_{i} + v_{j})/2",
            )
            runs.append((label, judge))
    return cases.run("average_query", runs, True).verdict()


def _compare_output(label: str, found, expected, tolerance: float, what: str):
    """None when c matches; else the worst entry."""
    if close(found, expected, atol=tolerance, rtol=tolerance):
        return None
    gap, index = worst_difference(found, expected)
    return (
        f"{label}: c[{index[0]}] = {fmt(found[index])}, expected "
        f"{fmt(expected[index])}{what} (difference {fmt(gap)}, tolerance "
        f"{fmt(tolerance)})"
    )


def _gaussian(ctx, q, K, V, sigma, label: str):
    found = as_vector(
        cases.call(
            ctx, "gaussian_attention", _tensor(q), _tensor(K), _tensor(V), sigma
        ),
        label,
        length=V.shape[1],
    )
    require_finite(found, label)
    return found


@check("attention.gaussian_values")
def gaussian_values(ctx) -> Verdict:
    """3.4: c against the reference, also where keys lie far from the query."""
    tolerance = ctx.param("tolerance")
    runs = []
    for n, d, d_v, sigma, spread in ctx.param("cases"):
        q = spread * ctx.rng.standard_normal(d)
        K = spread * ctx.rng.standard_normal((n, d))
        V = ctx.rng.standard_normal((n, d_v))
        label = (
            f"gaussian_attention with n={n}, d={d}, d_v={d_v}, sigma={sigma:g}, "
            f"q and K of scale {spread:g}"
        )

        def judge(q=q, K=K, V=V, sigma=sigma, label=label):
            found = _gaussian(ctx, q, K, V, sigma, label)
            expected = ctx.reference.gaussian_attention(
                torch.from_numpy(q), torch.from_numpy(K), torch.from_numpy(V), sigma
            ).numpy()
            return _compare_output(label, found, expected, tolerance, "")

        runs.append((label, judge))
    return cases.run("gaussian_attention", runs, True).verdict()


@check("attention.gaussian_dot_product")
def gaussian_dot_product(ctx) -> Verdict:
    """3.4: with keys of one norm, it is dot-product attention at 1/sigma."""
    tolerance = ctx.param("tolerance")
    runs = []
    for n, d, d_v, sigma, norm in ctx.param("cases"):
        K = ctx.rng.standard_normal((n, d))
        K = norm * K / np.linalg.norm(K, axis=1, keepdims=True)
        q = ctx.rng.standard_normal(d)
        V = ctx.rng.standard_normal((n, d_v))
        label = (
            f"gaussian_attention with n={n} keys of norm {norm:g}, d={d}, "
            f"sigma={sigma:g}"
        )

        def judge(q=q, K=K, V=V, sigma=sigma, label=label):
            found = _gaussian(ctx, q, K, V, sigma, label)
            expected = ctx.reference.attention(
                torch.from_numpy(q / sigma), torch.from_numpy(K), torch.from_numpy(V)
            ).numpy()
            return _compare_output(
                label, found, expected, tolerance, " = attention(q / sigma, K, V)"
            )

        runs.append((label, judge))
    return cases.run("gaussian_attention", runs, True).verdict()


def _lowrank_inputs(ctx, n: int, k: int, d: int):
    M = ctx.rng.standard_normal((n, k))
    s = ctx.rng.standard_normal(k)
    N = ctx.rng.standard_normal((k, n))
    V = ctx.rng.standard_normal((n, d))
    return M, s, N, V


def _lowrank_value(found, M, s, N, V, label: str, tolerance: float) -> str | None:
    n, d = V.shape
    found = with_shape(found, label, (n, d))
    require_finite(found, label)
    # The reference multiplies in the cheap order; (M·diag(s)·N)·V is the same.
    expected = M @ (s[:, None] * (N @ V))
    scale = max(1.0, float(np.max(np.abs(expected))))
    if close(found, expected, atol=tolerance * scale, rtol=tolerance):
        return None
    gap, index = worst_difference(found, expected)
    return (
        f"{label}: entry {index} = {fmt(found[index])}, expected "
        f"{fmt(expected[index])} = ((M·diag(s)·N)·V){list(index)} (difference "
        f"{fmt(gap)})"
    )


@check("attention.lowrank_values")
def lowrank_values(ctx) -> Verdict:
    """3.5: (M·diag(s)·N)·V against the dense product at small n."""
    tolerance = ctx.param("tolerance")
    runs = []
    for n, k, d in ctx.param("sizes"):
        M, s, N, V = _lowrank_inputs(ctx, n, k, d)
        label = f"lowrank_attention with n={n}, k={k}, d={d}"

        def judge(M=M, s=s, N=N, V=V, label=label):
            found = cases.call(
                ctx, "lowrank_attention", _tensor(M), _tensor(s), _tensor(N), _tensor(V)
            )
            return _lowrank_value(found, M, s, N, V, label, tolerance)

        runs.append((label, judge))
    return cases.run("lowrank_attention", runs, True).verdict()


def _size(count: float) -> str:
    """Bytes as feedback shows them."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= factor:
            return f"{count / factor:.3g} {unit}"
    return f"{int(count)} bytes"


def _shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


HINT = (
    "multiply in an order that never forms the n × n matrix M·diag(s)·N "
    "(N·V is only k × d)"
)


@check("attention.lowrank_cost")
def lowrank_cost(ctx) -> Verdict:
    """3.5: at n in the tens of thousands, O(k·n·d) memory and products."""
    n, k, d = (int(ctx.param(name)) for name in ("n", "k", "d"))
    M, s, N, V = _lowrank_inputs(ctx, n, k, d)
    label = f"lowrank_attention with n={n}, k={k}, d={d}"
    reply = ctx.probe(
        "memory.call",
        module=ctx.module,
        function="lowrank_attention",
        args=[_tensor(M), _tensor(s), _tensor(N), _tensor(V)],
    )
    failure = reply["failure"]
    if failure:
        if failure.get("shape"):
            what = (
                f"{failure['op']} asked for a tensor of shape "
                f"{_shape(failure['shape'])} ({_size(failure['bytes'])})"
            )
        else:
            what = f"{failure['type']}: {failure['message']}"
        return Verdict.failed(
            f"{label}: ran out of memory ({what}); the grader allows "
            f"{ctx.part.limits.memory_mb:g} MB in all. To fix it, {HINT}."
        )
    allowed = ctx.param("intermediate_factor") * n * (k + d) * 8
    largest = reply["largest"]
    if largest and largest["bytes"] > allowed:
        return Verdict.failed(
            f"{label}: the largest intermediate tensor has shape "
            f"{_shape(largest['shape'])} ({_size(largest['bytes'])}, made by "
            f"{largest['op']}), more than the {_size(allowed)} an O(k·n·d) "
            f"computation needs. To fix it, {HINT}."
        )
    if reply["traced_peak"] > allowed:
        return Verdict.failed(
            f"{label}: numpy arrays and Python objects took up to "
            f"{_size(reply['traced_peak'])} at once, more than the "
            f"{_size(allowed)} an O(k·n·d) computation needs. To fix it, {HINT}."
        )
    work = ctx.param("product_factor") * n * k * d
    if reply["products"] > work:
        return Verdict.failed(
            f"{label}: its matrix products took {reply['products']:.3g} "
            f"multiply-adds, more than the {work:.3g} an O(k·n·d) computation "
            f"needs. To fix it, {HINT}."
        )
    problem = _lowrank_value(reply["value"], M, s, N, V, label, ctx.param("tolerance"))
    if problem:
        return Verdict.failed(problem)
    if not largest:
        return Verdict.passed(f"{label}: correct, within O(k·n·d) memory.")
    return Verdict.passed(
        f"{label}: correct, largest intermediate tensor {_size(largest['bytes'])}."
    )
