"""Checks of the reference solutions of parts 1 to 3, all in float64."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def load(name):
    """Import solutions/<name>.py by its path."""
    spec = importlib.util.spec_from_file_location(
        f"reference_{name}", SOLUTIONS / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


construction = load("construction")
bptt = load("bptt")
attention = load("attention")


# Part 1


def vector(v):
    """A weight vector as a 1-D float64 numpy array."""
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64).reshape(-1)


def relu_net(w0, b, w1, x):
    """f(x) = w1ᵀ relu(w0·x + b) at every point of x."""
    w0, b, w1 = vector(w0), vector(b), vector(w1)
    assert w0.shape == b.shape == w1.shape
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(np.multiply.outer(x, w0) + b, 0.0) @ w1


def sigmoid_net(w0, w1, x):
    """f(x) = w1ᵀ sigmoid(w0·x) at every point of x."""
    w0, w1 = vector(w0), vector(w1)
    assert w0.shape == w1.shape
    z = np.multiply.outer(np.asarray(x, dtype=np.float64), w0)
    return (0.5 * (1.0 + np.tanh(0.5 * z))) @ w1


def square_error(w0, b, w1, lo, hi):
    """sup |f(x) - x²| over [lo, hi] for a ReLU network f.

    f is linear between consecutive kinks, so x² - f(x) is a convex quadratic
    there: its largest |value| sits at an end of the piece or at its vertex,
    where 2x equals the slope of f.
    """
    w0, b = vector(w0), vector(b)
    moving = w0 != 0
    kinks = -b[moving] / w0[moving]
    points = np.unique(np.concatenate([[lo, hi], kinks[(kinks > lo) & (kinks < hi)]]))
    f = relu_net(w0, b, w1, points)
    candidates = list(points)
    for a, c, fa, fc in zip(points[:-1], points[1:], f[:-1], f[1:], strict=True):
        vertex = (fc - fa) / (c - a) / 2
        if a < vertex < c:
            candidates.append(vertex)
    candidates = np.array(candidates)
    return np.max(np.abs(relu_net(w0, b, w1, candidates) - candidates**2))


# Points of a grid, the kinks of 1.4 and far tails.
POINTS = np.concatenate(
    [
        np.linspace(-10.0, 10.0, 2001),
        [-2.0, -1e-12, 0.0, 1e-12, 2.0],
        [-1e12, -1e6, -123.456, 123.456, 1e6, 1e12],
    ]
)


def test_identity_net_is_x_everywhere():
    w0, w1 = construction.identity_net()
    f = relu_net(w0, np.zeros_like(vector(w0)), w1, POINTS)
    np.testing.assert_allclose(f, POINTS, rtol=1e-14, atol=0)


@pytest.mark.parametrize("m", [0.0, 1.0, -1.0, 2.5, -3.75, 1e-3])
@pytest.mark.parametrize("c", [0.0, 1.0, -1.0, 7.25, -0.3])
def test_linear_net_is_mx_plus_c_everywhere(m, c):
    w0, b, w1 = construction.linear_net(m, c)
    f = relu_net(w0, b, w1, POINTS)
    np.testing.assert_allclose(f, m * POINTS + c, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("c", [0.0, 1.0, -1.0, 3.5, -42.0, 1e-8])
def test_constant_net_is_c_everywhere(c):
    w0, w1 = construction.constant_net(c)
    f = sigmoid_net(w0, w1, POINTS)
    np.testing.assert_allclose(f, np.full_like(POINTS, c), rtol=1e-14, atol=0)


def test_hat_net_has_three_units_and_the_hat_shape():
    w0, b, w1 = construction.hat_net()
    assert len(vector(w0)) == 3
    f = relu_net(w0, b, w1, POINTS)
    np.testing.assert_allclose(
        f, np.maximum(0.0, 6.0 - 3.0 * np.abs(POINTS)), rtol=1e-14, atol=1e-12
    )


def test_square_error_finds_the_midpoint_error_of_a_chord():
    # The chord of x² over [0, 1] is f(x) = x, with error 1/4 at x = 1/2.
    assert square_error([1.0], [0.0], [1.0], 0.0, 1.0) == pytest.approx(0.25)
    # f = 0 on [-5, 2] misses x² by 25 at x = -5.
    assert square_error([1.0], [0.0], [0.0], -5.0, 2.0) == pytest.approx(25.0)


@pytest.mark.parametrize("eps", [1e-1, 1e-2, 1e-4])
@pytest.mark.parametrize("lo, hi", [(-1.0, 1.0), (0.0, 3.0), (-5.0, 2.0)])
def test_square_net_is_within_eps_of_x_squared(eps, lo, hi):
    w0, b, w1 = construction.square_net(eps, lo, hi)
    error = square_error(w0, b, w1, lo, hi)
    assert error < eps
    # Knots no finer than needed: the error is not far below eps.
    assert error > eps / 10


def test_square_net_width_is_modest():
    w0, _, _ = construction.square_net(1e-4, -1.0, 1.0)
    assert len(vector(w0)) <= 300


def test_square_net_on_a_single_point():
    w0, b, w1 = construction.square_net(1e-3, 1.5, 1.5)
    assert relu_net(w0, b, w1, 1.5) == pytest.approx(2.25, abs=1e-3)


def test_answers_yaml():
    answers = yaml.safe_load((SOLUTIONS / "answers.yaml").read_text())
    assert answers == {"q1_5": False, "q1_6": False, "q1_7": True, "q3_1": False}


# Part 2

ACTIVATIONS = {
    "identity": lambda z: z,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}


def autograd_reference(w, xs, activation):
    """h_1..h_T, ∂h_T/∂w and ∂h_T/∂h_1 from torch.autograd."""
    sigma = ACTIVATIONS[activation]
    w = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    h1 = w * sigma(xs[0])
    h1_leaf = h1.detach().requires_grad_(True)
    hs, hs_from_leaf = [h1], [h1_leaf]
    for x in xs[1:]:
        hs.append(w * sigma(hs[-1] + x))
        hs_from_leaf.append(w * sigma(hs_from_leaf[-1] + x))
    (dw,) = torch.autograd.grad(hs[-1], w)
    if len(xs) == 1:
        dh1 = 1.0
    else:
        (dh1,) = torch.autograd.grad(hs_from_leaf[-1], h1_leaf)
    return torch.stack(hs).detach(), float(dw), float(dh1)


def bptt_cases():
    rng = np.random.default_rng(0)
    cases = []
    for activation in ACTIVATIONS:
        for length in [1, 2, 3, 7, 20, 50]:
            for w in [0.3, -0.8, 0.95, 1.2, -1.5, 2.0]:
                xs = rng.normal(size=length)
                cases.append((activation, w, tuple(xs)))
    return cases


def close(found, expected):
    """Equal up to rounding, relative to the size of the expected value."""
    return math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("activation, w, xs", bptt_cases())
def test_bptt_matches_autograd(activation, w, xs):
    xs = torch.tensor(xs, dtype=torch.float64)
    hs, dw, dh1 = autograd_reference(w, xs, activation)

    found_hs = bptt.rnn_forward(w, xs, activation)
    assert found_hs.dtype == torch.float64 and found_hs.shape == xs.shape
    torch.testing.assert_close(found_hs, hs, rtol=1e-12, atol=1e-12)

    found_dw = bptt.grad_w(w, xs, activation)
    found_dh1 = bptt.grad_h1(w, xs, activation)
    assert isinstance(found_dw, float) and isinstance(found_dh1, float)
    assert close(found_dw, dw), (found_dw, dw)
    assert close(found_dh1, dh1), (found_dh1, dh1)


def test_bptt_relu_slope_at_zero_is_zero():
    # With w = 0.5 and x_2 = -0.5 the input of σ at step 2 is exactly 0.
    xs = torch.tensor([1.0, -0.5, 0.3], dtype=torch.float64)
    assert bptt.grad_h1(0.5, xs, "relu") == 0.0
    assert close(bptt.grad_w(0.5, xs, "relu"), 0.3)


def test_bptt_long_sequences_vanish_and_explode():
    xs = torch.full((50,), 0.1, dtype=torch.float64)
    assert abs(bptt.grad_h1(0.5, xs)) < 1e-14
    assert abs(bptt.grad_h1(1.5, xs)) > 1e8


@pytest.mark.parametrize("w", [0.7, -1.3, 2.0])
def test_bptt_identity_formula_for_three_steps(w):
    xs = torch.tensor([0.5, -1.25, 2.0], dtype=torch.float64)
    h0 = 0.0
    y1 = h0 + 0.5
    h1 = w * y1
    y2 = h1 - 1.25
    h2 = w * y2
    y3 = h2 + 2.0
    h3 = w * y3

    torch.testing.assert_close(
        bptt.rnn_forward(w, xs), torch.tensor([h1, h2, h3], dtype=torch.float64)
    )
    assert close(bptt.grad_w(w, xs), y3 + w * y2 + w**2 * y1)
    assert close(bptt.grad_h1(w, xs), w**2)


def test_bptt_gradients_do_not_call_autograd(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("autograd was called")

    monkeypatch.setattr(torch.autograd, "grad", refuse)
    monkeypatch.setattr(torch.autograd, "backward", refuse)
    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    xs = torch.linspace(-1, 1, 10, dtype=torch.float64)
    for activation in ACTIVATIONS:
        bptt.grad_w(1.1, xs, activation)
        bptt.grad_h1(1.1, xs, activation)


# Part 3


def naive_weights(q, K):
    """Softmax of K·q straight from the formula, fine for small logits."""
    e = torch.exp(K @ q)
    return e / e.sum()


def random_tensors(seed, n=7, d=5, d_v=3):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(d, generator=g, dtype=torch.float64)
    K = torch.randn(n, d, generator=g, dtype=torch.float64)
    V = torch.randn(n, d_v, generator=g, dtype=torch.float64)
    return q, K, V


@pytest.mark.parametrize("seed", range(5))
def test_attention_matches_the_naive_softmax(seed):
    q, K, V = random_tensors(seed)
    alpha = attention.attention_weights(q, K)
    assert alpha.shape == (K.shape[0],)
    torch.testing.assert_close(alpha, naive_weights(q, K), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(
        attention.attention(q, K, V), naive_weights(q, K) @ V, rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("shift", [1e4, -1e4])
def test_attention_is_stable_for_large_logits(shift):
    # Logits shift + (0, -1, -2, -1e4): the weights do not depend on shift.
    logits = torch.tensor([0.0, -1.0, -2.0, -1e4], dtype=torch.float64) + shift
    K = torch.diag(logits)
    q = torch.ones(4, dtype=torch.float64)
    V = torch.eye(4, dtype=torch.float64)

    total = 1 + math.exp(-1) + math.exp(-2)
    expected = torch.tensor(
        [1 / total, math.exp(-1) / total, math.exp(-2) / total, 0.0],
        dtype=torch.float64,
    )
    alpha = attention.attention_weights(q, K)
    assert torch.isfinite(alpha).all()
    torch.testing.assert_close(alpha, expected, rtol=1e-12, atol=1e-300)
    torch.testing.assert_close(attention.attention(q, K, V), expected)


def orthogonal_keys(n, d, norm, seed):
    """n orthogonal keys in d dimensions, each of the given norm."""
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return norm * Q[:n]


KEY_SETS = [(4, 4, 1.0), (5, 8, 0.1), (6, 6, 10.0), (3, 10, 3.0)]


@pytest.mark.parametrize("n, d, norm", KEY_SETS)
def test_copy_query_copies_each_value(n, d, norm):
    K = orthogonal_keys(n, d, norm, seed=n + d)
    V = torch.randn(
        n, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )
    for i in range(n):
        q = attention.copy_query(K, i)
        c = attention.attention(q, K, V)
        assert (c - V[i]).abs().max() < 1e-6


@pytest.mark.parametrize("n, d, norm", KEY_SETS)
def test_average_query_averages_two_values(n, d, norm):
    K = orthogonal_keys(n, d, norm, seed=n + d)
    V = torch.randn(
        n, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2)
    )
    for i in range(n):
        for j in range(n):
            if i != j:
                q = attention.average_query(K, i, j)
                c = attention.attention(q, K, V)
                assert (c - (V[i] + V[j]) / 2).abs().max() < 1e-6


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("seed", range(3))
def test_gaussian_attention_matches_the_formula(sigma, seed):
    q, K, V = random_tensors(seed)
    e = torch.exp(-((q - K) ** 2).sum(dim=1) / (2 * sigma))
    expected = (e / e.sum()) @ V
    torch.testing.assert_close(
        attention.gaussian_attention(q, K, V, sigma), expected, rtol=1e-12, atol=1e-14
    )


def test_gaussian_attention_is_stable_for_far_keys():
    # Every ‖q - k_i‖² is near 10⁶: the plain formula gives 0 / 0.
    K = torch.tensor([[1000.0, 0.0], [1000.0, 1.0], [0.0, 1001.0]], dtype=torch.float64)
    q = torch.zeros(2, dtype=torch.float64)
    V = torch.eye(3, dtype=torch.float64)
    c = attention.gaussian_attention(q, K, V, 1.0)
    assert torch.isfinite(c).all()
    total = 1 + math.exp(-0.5)
    expected = torch.tensor(
        [1 / total, math.exp(-0.5) / total, 0.0], dtype=torch.float64
    )
    torch.testing.assert_close(c, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("sigma", [0.25, 1.0, 4.0])
def test_gaussian_attention_is_dot_product_attention_when_norms_match(sigma):
    q, K, V = random_tensors(7, n=6, d=4)
    K = 2.0 * K / K.norm(dim=1, keepdim=True)
    torch.testing.assert_close(
        attention.gaussian_attention(q, K, V, sigma),
        attention.attention(q / sigma, K, V),
        rtol=1e-12,
        atol=1e-14,
    )


@pytest.mark.parametrize("n, k, d", [(1, 1, 1), (9, 3, 4), (50, 7, 2)])
def test_lowrank_attention_matches_the_dense_product(n, k, d):
    g = torch.Generator().manual_seed(n)
    M = torch.randn(n, k, generator=g, dtype=torch.float64)
    s = torch.randn(k, generator=g, dtype=torch.float64)
    N = torch.randn(k, n, generator=g, dtype=torch.float64)
    V = torch.randn(n, d, generator=g, dtype=torch.float64)
    torch.testing.assert_close(
        attention.lowrank_attention(M, s, N, V), (M @ torch.diag(s) @ N) @ V
    )


def test_lowrank_attention_forms_no_n_by_n_matrix():
    # An n × n float64 matrix would take 320 GB here.
    n, k, d = 200_000, 3, 2
    M = torch.ones(n, k, dtype=torch.float64)
    s = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    N = torch.ones(k, n, dtype=torch.float64) / n
    V = torch.ones(n, d, dtype=torch.float64)
    out = attention.lowrank_attention(M, s, N, V)
    assert out.shape == (n, d)
    torch.testing.assert_close(out, torch.full((n, d), 6.0, dtype=torch.float64))
