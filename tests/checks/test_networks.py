"""The float64 evaluation of part 1's networks and the exact sup of 1.7."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import networks
from autograder.checks.networks import (
    PiecewiseLinear,
    relu_net,
    sigmoid_net,
    square_error,
)


def random_net(seed: int, width: int):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal(width)
    w0[rng.random(width) < 0.2] = 0.0  # some flat units
    b = rng.standard_normal(width)
    w1 = rng.standard_normal(width)
    return w0, b, w1


def direct(w0, b, w1, xs):
    return np.maximum(np.multiply.outer(xs, w0) + b, 0.0) @ w1


@pytest.mark.parametrize("seed", range(5))
def test_piecewise_form_equals_the_network_everywhere_and_at_kinks(seed):
    w0, b, w1 = random_net(seed, 40)
    f = PiecewiseLinear(w0, b, w1)
    kinks = -b[w0 != 0] / w0[w0 != 0]
    xs = np.concatenate([np.linspace(-5, 5, 1001), kinks, [-1e6, 1e6]])
    np.testing.assert_allclose(f(xs), direct(w0, b, w1, xs), rtol=1e-9, atol=1e-9)


def test_a_unit_whose_kink_overflows_counts_as_a_constant():
    w0, b, w1 = np.array([1e-320, 1.0]), np.array([2.0, 0.0]), np.array([3.0, 1.0])
    f = PiecewiseLinear(w0, b, w1)
    xs = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(f(xs), [6.0, 6.5, 8.0])


def test_the_chord_of_x_squared_misses_by_a_quarter_at_the_middle():
    error, where = square_error(
        np.array([1.0]), np.array([0.0]), np.array([1.0]), 0.0, 1.0
    )
    assert error == pytest.approx(0.25)
    assert where == pytest.approx(0.5)


def test_on_a_single_point_the_error_is_there():
    error, where = square_error(
        np.array([0.0]), np.array([1.0]), np.array([2.0]), 1.5, 1.5
    )
    assert (error, where) == (pytest.approx(0.25), 1.5)


@pytest.mark.parametrize("seed", range(5))
def test_the_exact_sup_bounds_and_matches_a_fine_sampling(seed):
    w0, b, w1 = random_net(seed, 30)
    lo, hi = -3.0, 2.0
    error, where = square_error(w0, b, w1, lo, hi)
    xs = np.linspace(lo, hi, 200_001)
    sampled = np.max(np.abs(direct(w0, b, w1, xs) - xs**2))
    assert sampled <= error + 1e-12
    assert error - sampled < 1e-4  # the grid step times the steepest slope
    assert lo <= where <= hi
    f_where = direct(w0, b, w1, np.array([where]))[0]
    assert abs(f_where - where**2) == pytest.approx(error)


def test_a_peak_between_samples_is_found():
    # f = 0 except a narrow spike of height 1 at x = 0.123456, 1e-7 wide.
    t, h = 0.123456, 1e-7
    w0 = np.ones(3)
    b = np.array([-(t - h), -t, -(t + h)])
    w1 = np.array([1.0, -2.0, 1.0]) / h
    error, where = square_error(w0, b, w1, 0.0, 1.0, np.linspace(0.0, 1.0, 1001))
    assert where == pytest.approx(1.0)  # x² itself is largest at 1
    error, where = square_error(w0, b, w1, 0.1, 0.2, np.linspace(0.1, 0.2, 1001))
    assert where == pytest.approx(t)
    assert error == pytest.approx(1.0 - t**2)


def test_wide_networks_are_evaluated_in_chunks(monkeypatch):
    monkeypatch.setattr(networks, "CHUNK", 64)
    w0, b, w1 = random_net(7, 50)
    xs = np.linspace(-4, 4, 101)
    found, scale = relu_net(w0, b, w1, xs)
    np.testing.assert_allclose(found, direct(w0, b, w1, xs), rtol=1e-12, atol=1e-12)
    terms = np.maximum(np.multiply.outer(xs, w0) + b, 0.0) * w1
    np.testing.assert_allclose(scale, np.abs(terms).sum(axis=1), rtol=1e-12)


def test_sigmoid_networks_stay_finite_far_out():
    found, _ = sigmoid_net(
        np.array([1e6, -1e6]), np.array([2.0, 2.0]), np.array([-1e6, 0.0, 1e6])
    )
    np.testing.assert_allclose(found, [2.0, 2.0, 2.0])
