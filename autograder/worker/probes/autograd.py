"""Calling a student function while watching for autograd.

Questions that ask for a gradient from the student's own recursion forbid
torch's automatic differentiation. For the duration of one call, the public
entry points (``torch.autograd.grad``, ``torch.autograd.backward``,
``Tensor.backward``, ``torch.autograd.functional.*``, ``torch.func.*``) are
wrapped to record their use, and so is what every one of them reaches in
the end, whatever name the student imported it under: the backward engine
(``Variable._execution_engine.run_backward``) and the entry to forward-mode
levels (``torch.autograd.forward_ad.enter_dual_level``). Everything is put
back when the call returns.

Not seen: a gradient computed by calling the ``grad_fn`` nodes of a graph
by hand, which no homework answer needs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from . import Context, call, probe

ENGINE = "the autograd engine"
FORWARD_AD = "torch.autograd.forward_ad"


class _Engine:
    """Stands in for torch's backward engine and records each backward pass."""

    def __init__(self, engine: Any, used: list[str]):
        self._engine = engine
        self._used = used

    def run_backward(self, *args: Any, **kwargs: Any) -> Any:
        _record(self._used, ENGINE)
        return self._engine.run_backward(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def _record(used: list[str], name: str) -> None:
    if name not in used:
        used.append(name)


def _watched(function: Any, name: str, used: list[str]) -> Any:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _record(used, name)
        return function(*args, **kwargs)

    return wrapper


def _entry_points():
    """(owner, attribute, name shown) of every public entry point."""
    import torch
    import torch.autograd.forward_ad as forward_ad
    import torch.autograd.functional as functional
    import torch.func

    points = [
        (torch.autograd, "grad", "torch.autograd.grad"),
        (torch.autograd, "backward", "torch.autograd.backward"),
        (torch.Tensor, "backward", "Tensor.backward()"),
        (forward_ad, "enter_dual_level", FORWARD_AD),
    ]
    for attribute in ("jacobian", "hessian", "vjp", "jvp", "vhp", "hvp"):
        points.append((functional, attribute, f"torch.autograd.functional.{attribute}"))
    for attribute in (
        "grad",
        "grad_and_value",
        "vjp",
        "jvp",
        "jacrev",
        "jacfwd",
        "hessian",
        "linearize",
    ):
        if hasattr(torch.func, attribute):
            points.append((torch.func, attribute, f"torch.func.{attribute}"))
    return points


@contextlib.contextmanager
def watching() -> Iterator[list[str]]:
    """Record autograd use inside the block, in the order first seen."""
    from torch.autograd.variable import Variable

    used: list[str] = []
    points = [
        (owner, name, shown, getattr(owner, name))
        for owner, name, shown in _entry_points()
    ]
    engine = Variable._execution_engine
    try:
        for owner, name, shown, original in points:
            setattr(owner, name, _watched(original, shown, used))
        Variable._execution_engine = _Engine(engine, used)
        yield used
    finally:
        Variable._execution_engine = engine
        for owner, name, _, original in points:
            setattr(owner, name, original)


@probe("autograd.call")
def call_watched(
    context: Context,
    module: str,
    function: str,
    args: list | None = None,
    kwargs: dict | None = None,
) -> dict:
    """Call ``module.function`` as ``call`` does; also say which autograd
    entry points it used (an empty list when none)."""
    with watching() as used:
        value = call(context, module, function, args, kwargs)
    return {"value": value, "autograd": list(used)}
