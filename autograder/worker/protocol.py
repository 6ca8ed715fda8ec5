"""Plain-data messages between the grader and the worker.

Messages are JSON documents sent with a 4-byte big-endian length prefix.
Arrays travel as raw little-endian bytes in base64 with an explicit dtype and
shape; tuples and opaque objects have markers of their own. Decoding never
runs code: it only builds dicts, lists, numbers, strings and numpy arrays of
an allowed dtype. This module is shared by both sides and imports nothing
beyond the standard library and numpy.
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

HEADER = struct.Struct(">I")

# dtypes an array may carry across; anything else is refused on decode.
ALLOWED_DTYPES = (
    "float64",
    "float32",
    "float16",
    "int64",
    "int32",
    "int16",
    "int8",
    "uint8",
    "bool",
)
MAX_DEPTH = 32


class DecodeError(ValueError):
    """A message is not valid plain data of this protocol."""


@dataclass(frozen=True)
class Opaque:
    """A value the worker could not turn into plain data; only its type name
    and a short text form cross."""

    type_name: str
    text: str


@dataclass(frozen=True)
class TensorArray:
    """An array that was a torch tensor on the worker side."""

    array: np.ndarray
    requires_grad: bool = False


def _encode_array(array: np.ndarray) -> dict:
    name = str(array.dtype)
    if name not in ALLOWED_DTYPES:
        array = array.astype(np.float64)
        name = "float64"
    data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))
    return {
        "dtype": name,
        "shape": list(array.shape),
        "b64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def encode(value: Any, depth: int = 0) -> Any:
    """Turn a value into JSON-ready plain data, marking arrays and tuples."""
    if depth > MAX_DEPTH:
        return {"__opaque__": ["nested too deep", ""]}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if abs(value) < 2**63:
            return int(value)
        if value.bit_length() <= 1024:
            return float(value)
        return {"__float__": "inf" if value > 0 else "-inf"}
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {"__float__": repr(float(value))}
    if isinstance(value, np.ndarray):
        return {"__nd__": _encode_array(value)}
    if isinstance(value, TensorArray):
        return {"__tensor__": _encode_array(value.array), "grad": value.requires_grad}
    if isinstance(value, np.generic):
        return encode(value.item(), depth + 1)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        array = value.detach().cpu().numpy()
        return {"__tensor__": _encode_array(array), "grad": bool(value.requires_grad)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {
            ("_" + k if k.startswith("__") else k): encode(v, depth + 1)
            for k, v in value.items()
        }
    return {"__opaque__": [type(value).__name__, _short_text(value)]}


def _short_text(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any repr failure only loses the text
        text = "<repr failed>"
    return text[:200]


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "b64"}:
        raise DecodeError("array marker without dtype, shape and b64")
    dtype, shape, b64 = spec["dtype"], spec["shape"], spec["b64"]
    if dtype not in ALLOWED_DTYPES:
        raise DecodeError(f"array dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(
        isinstance(n, int) and n >= 0 for n in shape
    ):
        raise DecodeError(f"array shape {shape!r} is not a list of sizes")
    if not isinstance(b64, str):
        raise DecodeError("array data is not a string")
    raw = base64.b64decode(b64.encode("ascii"), validate=True)
    count = math.prod(shape)
    array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    if array.size != count:
        raise DecodeError(f"array holds {array.size} items, shape says {count}")
    return array.reshape(shape).astype(np.dtype(dtype))


def decode(data: Any, depth: int = 0) -> Any:
    """Rebuild a value from plain data; raises DecodeError on anything else."""
    if depth > MAX_DEPTH + 2:
        raise DecodeError("message nested too deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, depth + 1) for v in data]
    if not isinstance(data, dict):
        raise DecodeError(f"unexpected JSON value of type {type(data).__name__}")
    if "__nd__" in data:
        return _decode_array(data["__nd__"])
    if "__tensor__" in data:
        return TensorArray(_decode_array(data["__tensor__"]), bool(data.get("grad")))
    if "__tuple__" in data:
        items = data["__tuple__"]
        if not isinstance(items, list):
            raise DecodeError("tuple marker without a list")
        return tuple(decode(v, depth + 1) for v in items)
    if "__float__" in data:
        text = data["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise DecodeError(f"float marker {text!r} is not nan or inf")
        return float(text)
    if "__opaque__" in data:
        pair = data["__opaque__"]
        if not (isinstance(pair, list) and len(pair) == 2):
            raise DecodeError("opaque marker without a name and a text")
        return Opaque(str(pair[0])[:100], str(pair[1])[:200])
    return {
        (k[1:] if k.startswith("___") else k): decode(v, depth + 1)
        for k, v in data.items()
    }


def dumps(message: Any) -> bytes:
    """Encode a message into its framed bytes."""
    body = json.dumps(encode(message), allow_nan=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


def loads(body: bytes) -> Any:
    """Decode the body of one framed message (without its length prefix).

    Whatever the bytes are, the only exception is DecodeError: a document
    nested past the parser's recursion limit, an integer too long to read or
    an array that numpy cannot shape are refused like any other garbage.
    """
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except DecodeError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not a JSON document: {exc}") from None
    except RecursionError:
        raise DecodeError("message nested too deep") from None
    except ValueError as exc:
        raise DecodeError(f"not plain data: {exc}") from None
    try:
        return decode(data)
    except DecodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"not plain data: {type(exc).__name__}: {exc}") from None


def _refuse_constant(name: str) -> float:
    raise DecodeError(f"bare {name} is not plain data here")
