"""One-hidden-layer networks of part 1, evaluated in float64 in the grader.

A network is f(x) = w1ᵀ σ(w0·x + b) with one input and one output. Besides
f, the evaluators return the size of the terms f adds up, Σ_i |w1_i·σ_i(x)|,
which is what rounding errors scale with.

For ReLU, f is piecewise linear with a kink at t_i = −b_i / w0_i for every
unit with w0_i ≠ 0, so sup |f(x) − x²| over [lo, hi] is exact from finitely
many points: the ends, the kinks inside, and on every linear piece the point
where the slope of x² equals the slope s of f (x = s / 2), where the concave
f(x) − x² peaks. ``square_error`` computes it in O(d log d) with prefix sums
over the sorted kinks, so wide networks stay cheap.
"""

from __future__ import annotations

import numpy as np

CHUNK = 1 << 20  # points × units evaluated at once


def _chunks(xs: np.ndarray, width: int):
    step = max(1, CHUNK // max(1, width))
    for start in range(0, len(xs), step):
        yield slice(start, start + step)


def relu_net(
    w0: np.ndarray, b: np.ndarray, w1: np.ndarray, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """f(x) = w1ᵀ relu(w0·x + b) at every x, and Σ_i |w1_i·relu_i(x)|."""
    found = np.empty(len(xs))
    scale = np.empty(len(xs))
    for part in _chunks(xs, len(w0)):
        terms = np.maximum(np.multiply.outer(xs[part], w0) + b, 0.0) * w1
        found[part] = terms.sum(axis=1)
        scale[part] = np.abs(terms).sum(axis=1)
    return found, scale


def sigmoid_net(
    w0: np.ndarray, w1: np.ndarray, xs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """f(x) = w1ᵀ sigmoid(w0·x) at every x, and Σ_i |w1_i·sigmoid_i(x)|."""
    found = np.empty(len(xs))
    scale = np.empty(len(xs))
    for part in _chunks(xs, len(w0)):
        # 0.5·(1 + tanh(z/2)) is the sigmoid without overflow for large |z|.
        terms = 0.5 * (1.0 + np.tanh(0.5 * np.multiply.outer(xs[part], w0))) * w1
        found[part] = terms.sum(axis=1)
        scale[part] = np.abs(terms).sum(axis=1)
    return found, scale


class PiecewiseLinear:
    """A ReLU network as its kinks, for evaluation at sorted or any points.

    A unit with w0 > 0 adds a·(x − t) for x > t, one with w0 < 0 adds
    a·(x − t) for x < t, with a = w1·w0; a unit with w0 = 0 adds the
    constant w1·relu(b).
    """

    def __init__(self, w0: np.ndarray, b: np.ndarray, w1: np.ndarray):
        # A unit whose kink overflows (w0 far below b) is constant in float64.
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            flat = (w0 == 0) | ~np.isfinite(b / w0)
        self.constant = float(np.sum(w1[flat] * np.maximum(b[flat], 0.0)))
        self.right = self._side(~flat & (w0 > 0), w0, b, w1)
        self.left = self._side(~flat & (w0 < 0), w0, b, w1)

    @staticmethod
    def _side(mask, w0, b, w1):
        t = -b[mask] / w0[mask]
        a = w1[mask] * w0[mask]
        order = np.argsort(t, kind="stable")
        t, a = t[order], a[order]
        zero = np.zeros(1)
        return (
            t,
            np.concatenate([zero, np.cumsum(a)]),
            np.concatenate([zero, np.cumsum(a * t)]),
        )

    def kinks(self) -> np.ndarray:
        return np.concatenate([self.right[0], self.left[0]])

    def _sums(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Σ a and Σ a·t over the units active at each x."""
        t, a_sum, at_sum = self.right
        below = np.searchsorted(t, xs, side="left")
        slope = a_sum[below]
        offset = at_sum[below]
        t, a_sum, at_sum = self.left
        above = np.searchsorted(t, xs, side="right")
        slope = slope + (a_sum[-1] - a_sum[above])
        offset = offset + (at_sum[-1] - at_sum[above])
        return slope, offset

    def __call__(self, xs: np.ndarray) -> np.ndarray:
        slope, offset = self._sums(xs)
        return self.constant + slope * xs - offset

    def slope(self, xs: np.ndarray) -> np.ndarray:
        """The slope of f at points that are not kinks."""
        return self._sums(xs)[0]


def square_error(
    w0: np.ndarray,
    b: np.ndarray,
    w1: np.ndarray,
    lo: float,
    hi: float,
    samples: np.ndarray | None = None,
) -> tuple[float, float]:
    """sup |f(x) − x²| over [lo, hi] for a ReLU network, and an x where it is.

    ``samples`` are extra points evaluated directly from the weights, a
    cross-check of the breakpoint computation that can only raise the error.
    """
    f = PiecewiseLinear(w0, b, w1)
    kinks = f.kinks()
    ends = np.unique(np.concatenate([[lo, hi], kinks[(kinks > lo) & (kinks < hi)]]))
    candidates = [ends]
    if len(ends) > 1:
        middles = (ends[:-1] + ends[1:]) / 2
        vertices = f.slope(middles) / 2
        inside = (vertices > ends[:-1]) & (vertices < ends[1:])
        candidates.append(vertices[inside])
    xs = np.concatenate(candidates)
    errors = np.abs(f(xs) - xs * xs)
    if samples is not None and len(samples):
        direct, _ = relu_net(w0, b, w1, samples)
        xs = np.concatenate([xs, samples])
        errors = np.concatenate([errors, np.abs(direct - samples * samples)])
    errors[np.isnan(errors)] = np.inf
    worst = int(np.argmax(errors))
    return float(errors[worst]), float(xs[worst])
