"""Calling a student function while measuring the memory it uses.

A question graded on its cost (3.5: no n × n intermediate) runs the
student's function at a size where the dense computation cannot fit in the
worker's address-space limit, and reports what it allocated:

- the largest tensor any torch operation created, by the bytes of its
  storage (a view or a broadcast of an input costs nothing), found with a
  ``TorchDispatchMode`` that sees every aten operation;
- the peak of memory traced by ``tracemalloc``, which counts numpy arrays
  and Python objects (torch's own allocations are not traced);
- the multiply-adds of every matrix product torch ran (``mm``, ``bmm``,
  ``addmm``, ``baddbmm``, ``mv``, ``dot``: what ``@``, ``matmul``,
  ``einsum`` and ``tensordot`` come down to), which tells a product taken
  in the wrong order even when it is cut into pieces that fit;
- an allocation that failed (torch's ``RuntimeError`` or ``MemoryError``),
  with the operation and the shape it was asked for where torch was the
  one asked.

The inputs are converted before the measurement starts, so they do not
count.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from . import Context, ProbeRefused, lookup, probe, to_student

# Operations that wrap memory allocated elsewhere (torch.from_numpy): the
# array is counted by tracemalloc already.
WRAPPING = ("lift_fresh",)
ALLOCATION_WORDS = ("can't allocate memory", "not enough memory", "out of memory")


def _is_allocation_failure(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(w in text for w in ALLOCATION_WORDS)


def _products(name: str, args: tuple) -> int:
    """Multiply-adds of one matrix product of aten, 0 for anything else."""
    if name in ("mm", "bmm"):
        a, b = args[0], args[1]
    elif name in ("addmm", "baddbmm"):
        a, b = args[1], args[2]
    elif name in ("mv", "dot"):
        return int(args[0].numel())
    else:
        return 0
    return int(a.numel() * b.shape[-1])


def _watcher(inputs: Any):
    """A dispatch mode recording the largest tensor torch creates; tensors
    sharing the storage of one of ``inputs`` are not counted."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves, tree_map

    def meta(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return torch.empty_strided(
                value.shape, value.stride(), dtype=value.dtype, device="meta"
            )
        return value

    class Largest(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # Nothing here is compiled; saying so spares the 1.5 s import of
            # torch._dynamo that the mode would otherwise make on first use.
            return False

        def __init__(self):
            super().__init__()
            self.largest: dict | None = None
            self.inputs = {
                t.untyped_storage().data_ptr()
                for t in tree_leaves(inputs)
                if isinstance(t, torch.Tensor)
            }
            self.failed: dict | None = None
            self.products = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            try:
                out = func(*args, **kwargs)
            except BaseException as exc:
                if _is_allocation_failure(exc):
                    planned = self._planned(func, args, kwargs)
                    self.failed = {"op": str(func), **planned}
                raise
            name = func.overloadpacket.__name__
            self.products += _products(name, args)
            if name in WRAPPING:
                return out
            for tensor in tree_leaves(out):
                if not isinstance(tensor, torch.Tensor):
                    continue
                storage = tensor.untyped_storage()
                if storage.data_ptr() in self.inputs:
                    continue
                size = storage.nbytes()
                if self.largest is None or size > self.largest["bytes"]:
                    self.largest = {
                        "op": str(func),
                        "shape": list(tensor.shape),
                        "bytes": int(size),
                    }
            return out

        @staticmethod
        def _planned(func, args, kwargs) -> dict:
            """The shape the failed operation would have made, from a dry run
            on meta tensors (which hold no data)."""
            kwargs = tree_map(meta, kwargs)
            if "device" in kwargs:  # a factory such as torch.empty or torch.zeros
                kwargs["device"] = torch.device("meta")
            try:
                out = func(*tree_map(meta, args), **kwargs)
            except Exception:  # noqa: BLE001 - the shape is only a nicety
                return {}
            for tensor in tree_leaves(out):
                if isinstance(tensor, torch.Tensor):
                    size = tensor.numel() * tensor.element_size()
                    return {"shape": list(tensor.shape), "bytes": int(size)}
            return {}

    return Largest()


def _warm_up(watcher) -> None:
    """Run the dispatch machinery once, so that what it imports on first use
    is neither traced nor timed as the student's."""
    import torch

    with watcher:
        torch.ones(2, dtype=torch.float64) @ torch.ones(2, dtype=torch.float64)
    watcher.largest = None
    watcher.failed = None
    watcher.products = 0


@probe("memory.call")
def call_measured(
    context: Context,
    module: str,
    function: str,
    args: list | None = None,
    kwargs: dict | None = None,
) -> dict:
    """Call ``module.function`` and report what it allocated.

    Returns the value (None after a failed allocation), ``largest`` (op,
    shape and bytes of the largest tensor torch created, or None),
    ``traced_peak`` (bytes), ``products`` (multiply-adds) and ``failure`` (None, or the type and message
    of the failed allocation, with op, shape and bytes when known). Any
    other exception of the student's code is raised as it came.
    """
    target = lookup(context, module, function)
    if not callable(target):
        raise ProbeRefused("not-callable", f"{module}.{function} is not a function")
    args = to_student(args or [])
    kwargs = to_student(kwargs or {})
    watcher = _watcher((args, kwargs))
    _warm_up(watcher)
    value = None
    failure = None
    tracemalloc.start()
    try:
        with watcher:
            value = target(*args, **kwargs)
    except (MemoryError, RuntimeError) as exc:
        if not _is_allocation_failure(exc):
            raise
        failure = {"type": type(exc).__name__, "message": str(exc)[:500]}
        failure.update(watcher.failed or {})
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "value": value,
        "largest": watcher.largest,
        "traced_peak": int(peak),
        "products": watcher.products,
        "failure": failure,
    }
