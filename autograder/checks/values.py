"""Turning what student code returned into float64 arrays, with messages.

Students may return Python lists, numpy arrays or torch tensors wherever a
vector is returned; these helpers accept all three and refuse anything else
with a message naming the function, the expected form and what came back.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import StudentError
from ..worker.protocol import Opaque, TensorArray


def describe(value: Any) -> str:
    """A short, student-readable description of a returned value."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, numbers.Number):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, TensorArray):
        return f"a tensor of shape {tuple(value.array.shape)} ({value.array.dtype})"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} ({value.dtype})"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} items"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, Opaque):
        return f"an object of type {value.type_name}"
    return f"a value of type {type(value).__name__}"


def as_array(
    value: Any, what: str, expected: str = "a vector of numbers"
) -> np.ndarray:
    """A float64 array from a list, array or tensor; StudentError otherwise."""
    if isinstance(value, TensorArray):
        value = value.array
    if isinstance(value, (bool, np.bool_)):
        raise StudentError(f"{what}: expected {expected}, found {describe(value)}")
    if isinstance(value, numbers.Number):
        value = np.asarray(value)
    if isinstance(value, (list, tuple)):
        items = [v.array if isinstance(v, TensorArray) else v for v in value]
        if not all(
            isinstance(v, (numbers.Number, np.ndarray)) and not isinstance(v, bool)
            for v in items
        ):
            raise StudentError(
                f"{what}: expected {expected}, found {describe(value)} "
                "that are not all numbers"
            )
        try:
            value = np.asarray(items, dtype=np.float64)
        except ValueError:
            raise StudentError(
                f"{what}: expected {expected}, found {describe(value)} of uneven shape"
            ) from None
    if not isinstance(value, np.ndarray):
        raise StudentError(f"{what}: expected {expected}, found {describe(value)}")
    if value.dtype == np.bool_:
        raise StudentError(f"{what}: expected {expected}, found an array of booleans")
    return value.astype(np.float64)


def as_vector(value: Any, what: str, length: int | None = None) -> np.ndarray:
    """A 1-D float64 array, of ``length`` items when given."""
    expected = (
        "a vector of numbers" if length is None else f"a vector of {length} numbers"
    )
    array = as_array(value, what, expected)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise StudentError(f"{what}: expected {expected}, found shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise StudentError(f"{what}: expected {expected}, found {array.shape[0]}")
    return array


def as_scalar(value: Any, what: str) -> float:
    """One float from a number, a 0-d or one-item array or tensor."""
    array = as_array(value, what, "a single number")
    if array.size != 1:
        raise StudentError(
            f"{what}: expected a single number, found shape {array.shape}"
        )
    return float(array.reshape(()))


def with_shape(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of exactly ``shape``."""
    array = as_array(value, what, f"an array of shape {shape}")
    if array.shape != tuple(shape):
        raise StudentError(
            f"{what}: expected shape {tuple(shape)}, found {array.shape}"
        )
    return array


def require_finite(array: np.ndarray, what: str) -> None:
    """Refuse NaN and infinity with a message saying where they are."""
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(array[index]) else "infinity"
        where = f" at index {index[0] if len(index) == 1 else index}" if index else ""
        raise StudentError(
            f"{what}: found {kind}{where} ({int(bad.sum())} non-finite values); "
            "expected finite numbers"
        )


def worst_difference(found: np.ndarray, expected: np.ndarray) -> tuple[float, tuple]:
    """The largest absolute difference and where it is."""
    difference = np.abs(found - expected)
    index = np.unravel_index(int(np.argmax(difference)), difference.shape)
    return float(difference[index]), tuple(int(i) for i in index)


def close(found: np.ndarray, expected: np.ndarray, atol: float, rtol: float) -> bool:
    return bool(np.allclose(found, expected, atol=atol, rtol=rtol))


def fmt(x: float) -> str:
    """A number as feedback shows it: short, but exact enough to compare
    (-0.0 shows as 0)."""
    return f"{x + 0.0:.6g}"
