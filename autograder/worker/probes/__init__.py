"""Probes: what the grader may ask the worker to run.

A probe is a function of the worker side that takes plain data, calls into
the student's code through ``call_student`` and returns plain data. Generic
probes live here (``import``, ``call``); a part with needs of its own (for
example running a training loop or inspecting a module's structure) adds a
module to this package; every module here is imported on first use.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..protocol import TensorArray

_REGISTRY: dict[str, Callable[..., Any]] = {}


class ProbeRefused(Exception):
    """The request cannot be served as asked (for example a missing name).

    Its kind tells the grader how to word the failure for the student.
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind

    def as_dict(self) -> dict:
        return {"type": "ProbeRefused", "kind": self.kind, "message": str(self)}


@dataclass
class Context:
    """What every probe may use: where the submission lies, the settings."""

    submission: str
    settings: dict
    modules: dict = field(default_factory=dict)


def probe(name: str) -> Callable:
    """Register a worker-side probe under ``name``."""

    def register(function: Callable) -> Callable:
        _REGISTRY[name] = function
        return function

    return register


def load_all() -> None:
    """Import every probe module of this package, so their probes register."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def run(context: Context, name: str, args: dict) -> Any:
    load_all()
    if name not in _REGISTRY:
        raise ProbeRefused("unknown-probe", f"no probe named {name!r}")
    return _REGISTRY[name](context, **args)


def to_student(value: Any) -> Any:
    """Turn decoded plain data into what the student's code is promised:
    arrays marked as tensors become torch tensors, tuples stay tuples."""
    import torch

    if isinstance(value, TensorArray):
        return torch.from_numpy(value.array.copy())
    if isinstance(value, tuple):
        return tuple(to_student(v) for v in value)
    if isinstance(value, list):
        return [to_student(v) for v in value]
    if isinstance(value, dict):
        return {k: to_student(v) for k, v in value.items()}
    return value


def load_module(context: Context, module: str):
    """Import a student module once; a failed import is raised as it came."""
    if module in context.modules:
        return context.modules[module]
    path = os.path.join(context.submission, f"{module}.py")
    if not os.path.isfile(path):
        raise ProbeRefused("missing-file", f"{module}.py was not found")
    try:
        loaded = importlib.import_module(module)
    except BaseException as exc:  # noqa: BLE001 - an import may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        where = ""
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename.startswith(context.submission):
                where = f" (at {os.path.basename(frame.filename)}, line {frame.lineno})"
        if isinstance(exc, SyntaxError):
            where = f" (at {module}.py, line {exc.lineno})"
            exc = SyntaxError(exc.msg)
        raise ProbeRefused(
            "import-error",
            f"{module}.py could not be imported: {type(exc).__name__}: {exc}{where}",
        ) from None
    origin = os.path.realpath(getattr(loaded, "__file__", "") or "")
    if not origin.startswith(os.path.realpath(context.submission)):
        raise ProbeRefused("missing-file", f"{module}.py was not found")
    context.modules[module] = loaded
    return loaded


def lookup(context: Context, module: str, name: str) -> Any:
    """Find ``name`` (dotted for attributes) in a student module."""
    target = load_module(context, module)
    for part in name.split("."):
        if not hasattr(target, part):
            raise ProbeRefused("missing-name", f"{module}.py defines no {name}")
        target = getattr(target, part)
    return target


@probe("import")
def import_module(context: Context, module: str) -> bool:
    load_module(context, module)
    return True


@probe("call")
def call(
    context: Context,
    module: str,
    function: str,
    args: list | None = None,
    kwargs: dict | None = None,
) -> Any:
    """Call ``module.function(*args, **kwargs)`` and return what it returns."""
    target = lookup(context, module, function)
    if not callable(target):
        raise ProbeRefused("not-callable", f"{module}.{function} is not a function")
    return target(*to_student(args or []), **to_student(kwargs or {}))
