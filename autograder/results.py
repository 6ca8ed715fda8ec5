"""Gradescope's results.json: building, completing and writing it.

The format is Gradescope's published autograder output: a top-level score,
execution time, output and visibilities, and one entry per test with its
name, question number, score, maximum, status, output and visibility. The
JSON Schema of that format ships in ``schema/results.schema.json`` and the
test suite validates every file the grader writes against it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "results.schema.json"

GRADER_FAULT_TEXT = (
    "This test could not be run because of a fault in the autograder, not in "
    "your submission. Course staff have the details in the autograder log."
)


def text(value: str) -> str:
    """``value`` as text that UTF-8 can carry: a lone surrogate (from a file
    name or an exception message that was not UTF-8) becomes "?", so that
    the file can always be written."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def test_entry(
    *,
    name: str,
    number: str,
    score: float,
    max_score: float,
    output: str,
    visibility: str,
    tags: list[str] | tuple[str, ...] = (),
    status: str | None = None,
) -> dict:
    """One test of results.json, with every field the format allows here."""
    if status is None:
        status = "passed" if score >= max_score else "failed"
    return {
        "name": text(name),
        "number": number,
        "score": round(float(score), 6),
        "max_score": float(max_score),
        "status": status,
        "output": text(output),
        "output_format": "text",
        "visibility": visibility,
        "tags": list(tags),
    }


def document(
    tests: list[dict],
    *,
    execution_time: float,
    output: str,
    visibility: str = "visible",
    stdout_visibility: str = "hidden",
) -> dict:
    """The whole results.json document; the score is the sum of the tests."""
    return {
        "score": round(sum(t["score"] for t in tests), 6),
        "execution_time": round(float(execution_time), 3),
        "output": text(output),
        "output_format": "text",
        "visibility": visibility,
        "stdout_visibility": stdout_visibility,
        "tests": tests,
    }


def grader_failure(message: str, execution_time: float = 0.0) -> dict:
    """A results.json for a run that could not grade anything at all."""
    test = test_entry(
        name="Autograder could not run",
        number="0.0",
        score=0.0,
        max_score=0.0,
        output=GRADER_FAULT_TEXT,
        visibility="visible",
        tags=["grader-error"],
        status="failed",
    )
    return document(
        [test],
        execution_time=execution_time,
        output=f"Autograder error. {GRADER_FAULT_TEXT}\n\nFor staff: {message}",
    )


def write(results: dict, path: Path) -> None:
    """Write results.json atomically: a temporary file renamed into place,
    so a file or link left at ``path`` by anyone else is replaced, not
    followed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".results-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(results, stream, indent=2, ensure_ascii=False, allow_nan=False)
            stream.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    log.info("wrote %s (score %s)", path, results.get("score"))


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
