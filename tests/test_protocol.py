"""The plain-data protocol: round trips, and refusal of anything else."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
import torch

from autograder.worker import protocol
from autograder.worker.protocol import DecodeError, Opaque, TensorArray


def round_trip(value):
    framed = protocol.dumps(value)
    (length,) = protocol.HEADER.unpack(framed[:4])
    assert length == len(framed) - 4
    return protocol.loads(framed[4:])


def test_plain_values_round_trip():
    value = {"a": [1, 2.5, None, True, "x"], "b": (1, (2, 3)), "__c": -3}
    assert round_trip(value) == value


def test_arrays_keep_dtype_shape_and_values():
    for array in (
        np.arange(12, dtype=np.float64).reshape(3, 4),
        np.array([1, -2], dtype=np.int32),
        np.zeros((0, 3), dtype=np.float32),
        np.array([True, False]),
    ):
        back = round_trip(array)
        assert back.dtype == array.dtype and back.shape == array.shape
        assert np.array_equal(back, array)


def test_tensors_come_back_marked_as_tensors():
    tensor = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    back = round_trip(tensor)
    assert isinstance(back, TensorArray) and back.requires_grad
    assert np.array_equal(back.array, [1.0, 2.0])
    sent = round_trip(TensorArray(np.ones(3)))
    assert isinstance(sent, TensorArray)


def test_non_finite_floats_cross_as_markers():
    back = round_trip([math.nan, math.inf, -math.inf])
    assert math.isnan(back[0]) and back[1:] == [math.inf, -math.inf]


def test_unknown_objects_become_opaque_without_their_code():
    class Sneaky:
        def __reduce__(self):
            raise AssertionError("never pickled")

        def __repr__(self):
            return "sneaky" * 100

    back = round_trip(Sneaky())
    assert isinstance(back, Opaque) and back.type_name == "Sneaky"
    assert len(back.text) == 200


def body(data) -> bytes:
    return json.dumps(data).encode()


BAD = [
    (b"\x80\x81", "not a JSON document"),
    (b"NaN", "bare NaN is not plain data here"),
    (body({"__nd__": {"dtype": "object", "shape": [1], "b64": ""}}), "not allowed"),
    (
        body({"__nd__": {"dtype": "float64", "shape": [3], "b64": "AAAAAAAAAAA="}}),
        "array holds 1 items, shape says 3",
    ),
    (body({"__nd__": {"dtype": "float64", "shape": [-1], "b64": ""}}), "shape"),
    (body({"__float__": "1e999"}), "is not nan or inf"),
    (body({"__tuple__": "abc"}), "tuple marker without a list"),
    (body({"__opaque__": [1]}), "opaque marker"),
    (b"[" * 100000 + b"]" * 100000, "message nested too deep"),
    (b"9" * 5000, "not plain data: Exceeds the limit"),
    (
        body(
            {"__nd__": {"dtype": "float64", "shape": [1] * 70, "b64": "AAAAAAAAAAA="}}
        ),
        "not plain data: ValueError: maximum supported dimension",
    ),
    (
        body({"__nd__": {"dtype": "uint8", "shape": [1], "b64": "\u00e9"}}),
        "not plain data: UnicodeEncodeError",
    ),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_malformed_messages_are_refused(data, message):
    with pytest.raises(DecodeError, match=message):
        protocol.loads(data)


def test_integers_too_large_for_a_float_cross_as_infinities():
    assert round_trip([2**100, -(10**5000), 10**5000]) == [
        float(2**100),
        -math.inf,
        math.inf,
    ]


def test_pickle_payloads_are_just_bytes():
    payload = b"cos\nsystem\n(S'echo hi'\ntR."
    raw = base64.b64encode(payload).decode()
    data = body({"__nd__": {"dtype": "uint8", "shape": [len(payload)], "b64": raw}})
    back = protocol.loads(data)
    assert back.dtype == np.uint8 and back.tobytes() == payload


def test_deep_nesting_is_refused():
    data = body(json.loads("[" * 60 + "]" * 60))
    with pytest.raises(DecodeError, match="nested too deep"):
        protocol.loads(data)
