"""Checks of the yes/no answers (``answers.yaml``: 1.5, 1.6, 1.7, 3.1).

``answers.yaml`` is data, never code: the grader reads it itself, up to
``params.max_bytes``, with ``yaml.safe_load``, and no worker is started. An
answer may be a YAML boolean or one of the words in ``SPELLINGS``, in any
case; the key is found whatever its case, with ``.`` for ``_`` allowed
(``Q1.5``). The answer key is ``params.answer`` of each test, in the spec,
which students never see.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..errors import GraderError, StudentError
from . import Verdict, check
from .values import describe

SPELLINGS = {
    "yes": True,
    "y": True,
    "true": True,
    "no": False,
    "n": False,
    "false": False,
}
ACCEPTED = "write yes or no (true/false and y/n are accepted too, in any case)"


def _word(answer: bool) -> str:
    return "yes" if answer else "no"


def _key(name: Any) -> str:
    return str(name).strip().lower().replace(".", "_")


def read_answers(ctx) -> dict[str, Any]:
    """The mapping in answers.yaml, its keys normalised."""
    raw = ctx.read_file(int(ctx.param("max_bytes")))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StudentError(f"{ctx.part.file} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it could not be parsed"
        raise StudentError(
            f"{ctx.part.file} is not valid YAML{where}: {problem}; write one "
            "answer a line, like 'q1_5: no'"
        ) from None
    except RecursionError:
        raise StudentError(f"{ctx.part.file} is nested too deeply to read") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StudentError(
            f"{ctx.part.file} should map each question to its answer, one a "
            f"line, like 'q1_5: no'; found {describe(data)}"
        )
    return {_key(name): value for name, value in data.items()}


def parse_answer(file: str, key: str, value: Any) -> bool:
    """A yes/no answer as a bool; StudentError with the accepted forms."""
    if isinstance(value, bool):
        return value
    if value is None:
        raise StudentError(
            f"{file}: {key} has no answer; write yes or no after '{key}:'"
        )
    if isinstance(value, str) and value.strip().lower() in SPELLINGS:
        return SPELLINGS[value.strip().lower()]
    shown = repr(value[:40]) if isinstance(value, str) else describe(value)
    raise StudentError(f"{file}: {key} is {shown}, which is not an answer; {ACCEPTED}")


@check("answers.yes_no")
def yes_no(ctx) -> Verdict:
    """One yes/no answer against the key in the spec."""
    key = ctx.param("key")
    expected = ctx.param("answer")
    if isinstance(expected, str):
        expected = SPELLINGS.get(expected.strip().lower())
    if not isinstance(expected, bool):
        raise GraderError(
            f"{ctx.part.source}: params.answer of {ctx.test.id!r} must be yes or no"
        )
    answers = read_answers(ctx)
    if _key(key) not in answers:
        raise StudentError(
            f"{ctx.part.file} has no answer for {key}: add a line '{key}: yes' or "
            f"'{key}: no'"
        )
    given = parse_answer(ctx.part.file, key, answers[_key(key)])
    if given == expected:
        return Verdict.passed(f"{key}: '{_word(given)}' is correct.")
    return Verdict.failed(f"{key}: '{_word(given)}' is not correct.")
