"""Seeing autograd used inside a student's call, and putting torch back."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import grad as imported_grad

from autograder.worker.probes import autograd
from autograder.worker.probes.autograd import watching


def square(w):
    return w * w


def with_backward():
    w = torch.tensor(2.0, requires_grad=True)
    square(w).backward()


def with_autograd_grad():
    w = torch.tensor(2.0, requires_grad=True)
    torch.autograd.grad(square(w), w)


def with_a_name_imported_before():
    w = torch.tensor(2.0, requires_grad=True)
    imported_grad(square(w), w)


def with_func_grad():
    torch.func.grad(square)(torch.tensor(3.0))


def with_jacfwd():
    torch.func.jacfwd(square)(torch.tensor(3.0))


def with_functional_jacobian():
    torch.autograd.functional.jacobian(square, torch.tensor(3.0))


def with_forward_ad():
    import torch.autograd.forward_ad as fwAD

    with fwAD.dual_level():
        fwAD.make_dual(torch.tensor(1.0), torch.tensor(1.0))


def by_hand():
    h = torch.zeros((), dtype=torch.float64)
    for x in torch.linspace(-1, 1, 5, dtype=torch.float64):
        h = 0.5 * torch.tanh(h + x)
    return h


@pytest.mark.parametrize(
    ("function", "first"),
    [
        (with_backward, "Tensor.backward()"),
        (with_autograd_grad, "torch.autograd.grad"),
        (with_a_name_imported_before, autograd.ENGINE),
        (with_func_grad, "torch.func.grad"),
        (with_jacfwd, "torch.func.jacfwd"),
        (with_functional_jacobian, "torch.autograd.functional.jacobian"),
        (with_forward_ad, autograd.FORWARD_AD),
        (by_hand, None),
    ],
)
def test_autograd_use_is_recorded_by_its_first_entry_point(function, first):
    with watching() as used:
        function()
    assert (used[0] if used else None) == first


def test_torch_is_put_back_even_when_the_call_raises():
    originals = (
        torch.autograd.grad,
        torch.autograd.backward,
        torch.Tensor.backward,
        torch.func.grad,
        torch.autograd.forward_ad.enter_dual_level,
        torch.autograd.variable.Variable._execution_engine,
    )
    with pytest.raises(ZeroDivisionError), watching():
        raise ZeroDivisionError
    assert originals == (
        torch.autograd.grad,
        torch.autograd.backward,
        torch.Tensor.backward,
        torch.func.grad,
        torch.autograd.forward_ad.enter_dual_level,
        torch.autograd.variable.Variable._execution_engine,
    )
    with watching() as used:
        pass
    with_backward()  # outside the watch: not recorded
    assert used == []


def test_gradients_are_still_right_under_the_watch():
    w = torch.tensor(3.0, requires_grad=True)
    with watching():
        (grad,) = torch.autograd.grad(w**3, w)
    assert float(grad) == 27.0
