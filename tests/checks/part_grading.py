"""Grading small submissions, one part at a time, for the tests of checks.

Each test module grades its submissions once, in a module-scoped fixture,
and its tables read the results.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from autograder import runner, spec

SOLUTIONS = runner.ROOT / "solutions"


def grade_files(
    factory, files: dict[str, str | bytes], part: str, specs: Path = runner.SPECS
) -> dict[str, dict]:
    """Grade {file name: text or bytes} for one part; return its tests by
    number.

    ``factory`` is pytest's ``tmp_path_factory``.
    """
    folder = factory.mktemp("submission")
    for name, text in files.items():
        if isinstance(text, bytes):
            (folder / name).write_bytes(text)
        else:
            (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    target = factory.mktemp("results") / "results.json"
    runner.grade(folder, target, specs, [part])
    document = json.loads(target.read_text(encoding="utf-8"))
    return {test["number"]: test for test in document["tests"]}


def specs_with_only(factory, part: str, ids: list[str]) -> Path:
    """A specs folder whose part spec keeps only the tests given by id, as
    they are in specs/ (to grade one test without the others)."""
    folder = factory.mktemp("specs")
    (folder / "grader.yaml").write_text(
        (runner.SPECS / "grader.yaml").read_text(encoding="utf-8")
    )
    text = (runner.SPECS / f"{part}.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=spec.SpecLoader)
    data["tests"] = [test for test in data["tests"] if test["id"] in ids]
    (folder / f"{part}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def solution(name: str) -> str:
    return (SOLUTIONS / name).read_text(encoding="utf-8")


def replaced(name: str, old: str, new: str) -> str:
    """A solution file with one piece of it replaced (which must be there)."""
    text = solution(name)
    assert text.count(old) == 1, old
    return text.replace(old, new)


def feedback(test: dict) -> str:
    """What the student reads, without the runner's closing 'Result:' line."""
    return test["output"].split("\n\nResult: ")[0].rstrip("\n")
