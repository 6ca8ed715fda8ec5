"""Checks: the grader-side logic of each test.

A check is a function registered under a name (``part.test``) that a spec
names in its ``check`` key. It receives a ``CheckContext`` and returns a
``Verdict`` (the fraction of the points earned and the feedback lines), or
raises ``StudentError`` with the message the student reads. It computes the
reference values itself, in the grader's process, from ``solutions/``; the
student's code is only reached through ``ctx.call`` and ``ctx.probe``, which
run in the worker and return plain data.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    GraderError,
    ProbeTimeout,
    ProtocolError,
    StudentError,
    StudentException,
    WorkerDied,
)
from ..spec import PartSpec, TestSpec

_REGISTRY: dict[str, Callable[[CheckContext], Verdict]] = {}


@dataclass
class Verdict:
    """The outcome of one check: a fraction of the points and feedback."""

    fraction: float
    lines: list[str] = field(default_factory=list)

    @classmethod
    def passed(cls, *lines: str) -> Verdict:
        return cls(1.0, list(lines))

    @classmethod
    def failed(cls, *lines: str) -> Verdict:
        return cls(0.0, list(lines))


def check(name: str) -> Callable:
    """Register a check under ``name`` (``part.test``)."""

    def register(function: Callable) -> Callable:
        if name in _REGISTRY:
            raise GraderError(f"two checks are registered as {name!r}")
        _REGISTRY[name] = function
        return function

    return register


def _load_all() -> None:
    """Import every module of this package, so their checks register."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def find(name: str) -> Callable[[CheckContext], Verdict]:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise GraderError(f"no check is registered as {name!r}") from None


def names() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)


_SOLUTIONS: dict[str, Any] = {}


def reference_module(solutions: Path, module: str) -> Any:
    """Import a reference solution into the grader (once per run)."""
    key = f"{solutions}:{module}"
    if key not in _SOLUTIONS:
        path = solutions / f"{module}.py"
        spec = importlib.util.spec_from_file_location(f"dlag_solution_{module}", path)
        if spec is None or spec.loader is None:
            raise GraderError(f"reference solution {path} cannot be loaded")
        loaded = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(solutions))
        try:
            spec.loader.exec_module(loaded)
        finally:
            sys.path.remove(str(solutions))
        _SOLUTIONS[key] = loaded
    return _SOLUTIONS[key]


class CheckContext:
    """What a check may use: its spec, a seeded generator, the reference,
    and the student's code through the worker."""

    def __init__(
        self,
        part: PartSpec,
        test: TestSpec,
        session,
        solutions: Path,
        artifacts: Path | None = None,
    ):
        self.part = part
        self.test = test
        self.params = test.params
        self.rng = np.random.default_rng(test.seed)
        self.module = Path(part.file).stem
        self._session = session
        self._solutions = solutions
        # A folder for files kept for staff (the one of results.json), or None.
        self.artifacts = artifacts
        self.outputs: list[str] = []

    @property
    def reference(self) -> Any:
        return reference_module(self._solutions, self.module)

    def param(self, name: str) -> Any:
        try:
            return self.params[name]
        except KeyError:
            raise GraderError(
                f"{self.part.source}: test {self.test.id!r} needs params.{name}"
            ) from None

    def read_file(self, max_bytes: int) -> bytes:
        """The bytes of the part's file, for a data file the grader parses
        itself (never code, which only runs in the worker); StudentError when
        it is missing or larger than ``max_bytes``."""
        path = self._session.folder / self.part.file
        if not path.is_file():
            raise StudentError(
                f"{self.part.file} was not found in your submission "
                f"(it holds: {self._session.files})"
            )
        size = path.stat().st_size
        if size > max_bytes:
            raise StudentError(
                f"{self.part.file} is {size} bytes long; at most {max_bytes} "
                "bytes are read"
            )
        return path.read_bytes()

    def probe(self, name: str, **args: Any) -> Any:
        """Run a worker probe; return its value or raise StudentError."""
        label = args.get("function") or name
        try:
            reply = self._session.request(name, args, self.test)
        except (ProbeTimeout, WorkerDied, ProtocolError) as exc:
            raise type(exc)(f"{label}: {exc}") from None
        if reply.output.strip():
            self.outputs.append(reply.output)
        message = reply.message
        if message.get("ok"):
            return message.get("value")
        raise self._student_exception(message.get("error") or {}, args)

    def call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """Call a function of the student's module with plain-data arguments."""
        return self.probe(
            "call",
            module=self.module,
            function=function,
            args=list(args),
            kwargs=kwargs,
        )

    def _student_exception(self, error: dict, args: dict) -> StudentException:
        kind = error.get("kind")
        text = str(error.get("message", ""))
        exc_type = str(error.get("type", "Exception"))
        where = str(error.get("where", ""))
        name = args.get("function") or args.get("module") or self.module
        if kind == "missing-file":
            message = f"{self.part.file} was not found in your submission"
        elif kind == "missing-name":
            message = f"{self.part.file} does not define {name}"
        elif kind == "not-callable":
            message = f"{self.part.file}: {name} is not a function"
        elif kind:
            message = text
        else:
            message = f"{name} raised {exc_type}: {text}"
            if where:
                message += f" (at {where})"
        return StudentException(message, exc_type, text, where)
