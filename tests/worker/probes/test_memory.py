"""Measuring what a student's call allocates (3.5's cost)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from autograder.worker.probes import Context
from autograder.worker.probes.memory import call_measured

N, K, D = 2000, 4, 3


@pytest.fixture
def measure(tmp_path, monkeypatch, request):
    """Write a student module and return a caller of call_measured on it."""
    monkeypatch.syspath_prepend(str(tmp_path))
    context = Context(submission=str(tmp_path), settings={})
    name = f"student_{request.node.name.replace('[', '_').replace(']', '')}"
    name = name.replace("-", "_")

    def run(source: str, *args):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        return call_measured(context, name, "f", list(args))

    return run


def inputs():
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(N, K, generator=g, dtype=torch.float64),
        torch.randn(K, generator=g, dtype=torch.float64),
        torch.randn(K, N, generator=g, dtype=torch.float64),
        torch.randn(N, D, generator=g, dtype=torch.float64),
    )


def test_the_cheap_order_is_small_and_counted(measure):
    reply = measure(
        """
        def f(M, s, N, V):
            return M @ (s[:, None] * (N @ V))
        """,
        *inputs(),
    )
    assert reply["failure"] is None
    assert reply["largest"] == {
        "op": "aten.mm.default",
        "shape": [N, D],
        "bytes": N * D * 8,
    }
    assert reply["products"] == 2 * N * K * D
    assert reply["value"].shape == (N, D)


def test_the_dense_order_shows_its_n_by_n_matrix(measure):
    reply = measure(
        """
        def f(M, s, N, V):
            return (M * s) @ N @ V
        """,
        *inputs(),
    )
    assert reply["largest"]["shape"] == [N, N]
    assert reply["largest"]["bytes"] == N * N * 8
    assert reply["products"] == N * K * N + N * N * D


def test_views_and_broadcasts_of_the_inputs_cost_nothing(measure):
    reply = measure(
        """
        def f(M, s, N, V):
            wide = s.expand(10**6, len(s))
            return M.T.numpy(), wide[0]
        """,
        *inputs(),
    )
    assert reply["largest"] is None


def test_a_broadcast_counts_by_its_storage(measure):
    reply = measure(
        """
        def f(M, s, N, V):
            return (2 * s).expand(10**6, len(s))
        """,
        *inputs(),
    )
    assert reply["largest"] == {"op": "aten.mul.Tensor", "shape": [K], "bytes": K * 8}


def test_numpy_arrays_count_in_the_traced_peak(measure):
    reply = measure(
        """
        import numpy as np

        def f(M, s, N, V):
            buffer = np.ones((len(M), 500))
            return float(buffer.sum())
        """,
        *inputs(),
    )
    assert reply["traced_peak"] >= N * 500 * 8
    assert reply["value"] == N * 500


def test_a_failed_torch_allocation_is_reported_with_its_shape(measure):
    reply = measure(
        """
        import torch

        def f(M, s, N, V):
            return torch.empty(2**36, dtype=torch.float64)
        """,
        *inputs(),
    )
    assert reply["value"] is None
    assert reply["failure"]["type"] == "RuntimeError"
    assert reply["failure"]["shape"] == [2**36]
    assert reply["failure"]["bytes"] == 2**39


def test_a_failed_numpy_allocation_is_reported_with_numpy_s_message(measure):
    reply = measure(
        """
        import numpy as np

        def f(M, s, N, V):
            return np.empty((2**22, 2**22))
        """,
        *inputs(),
    )
    assert reply["failure"]["type"] == "MemoryError"
    assert "Unable to allocate" in reply["failure"]["message"]
    assert "shape" not in reply["failure"]


def test_other_exceptions_of_the_student_are_raised(measure):
    with pytest.raises(ValueError, match="mine"):
        measure(
            """
            def f(M, s, N, V):
                raise ValueError("mine")
            """,
            *inputs(),
        )


def test_the_inputs_do_not_count(measure):
    big = np.zeros((N, 1000))
    reply = measure(
        """
        def f(a):
            return a.shape[0]
        """,
        torch.from_numpy(big),
    )
    assert reply["traced_peak"] < N * 1000 * 8
