"""Checks of part 3, attention (``attention.py``).

Inputs are drawn from the test's seeded generator and sent as float64
tensors; the reference values come from ``solutions/attention.py`` run here
on the same inputs. Feedback names the case by its sizes and scale, never
by its values.
"""

from __future__ import annotations

import numpy as np
import torch

from ..worker.protocol import TensorArray
from . import Verdict, check
from .values import as_vector, close, fmt, require_finite, worst_difference


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
