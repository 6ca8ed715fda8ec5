"""Loading and checking the YAML specs that course staff edit.

``specs/grader.yaml`` holds the settings of the whole run (worker user,
thread count, sandbox limits, time budget, result visibility); every other
``specs/<part>.yaml`` describes one part: the student file it grades and its
tests with points, question number, visibility, timeout, seed and the
parameters (tolerances, thresholds, sizes) its check reads. A spec with a
mistake is refused before any grading, with the file, the line and what is
allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError
from .sandbox import Limits

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
NUMBER = re.compile(r"^[1-9]\d*(\.\d+){1,2}$")
LIMIT_KEYS = tuple(Limits.__annotations__)


class SpecLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e4`` and ``1.0e4`` as numbers (YAML 1.2),
    which plain PyYAML takes for strings."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class TestSpec:
    """One test of results.json: what it is worth and how it is checked."""

    id: str
    number: str
    name: str
    points: float
    check: str
    visibility: str = "visible"
    timeout: float = 30.0
    seed: int = 0
    params: dict = field(default_factory=dict)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartSpec:
    """One part of the homework: the student file and its tests."""

    part: str
    title: str
    file: str
    tests: tuple[TestSpec, ...]
    limits: Limits
    provided: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class GraderSpec:
    """Settings of the whole run."""

    worker_user: str
    threads: int
    limits: Limits
    time_budget: float
    visibility: str
    stdout_visibility: str
    parts: tuple[PartSpec, ...]
    launch_ahead: bool = True


class _Checker:
    """Walks composed YAML nodes so every refusal can name its line."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, node: yaml.Node | None, message: str) -> SpecError:
        line = f", line {node.start_mark.line + 1}" if node is not None else ""
        return SpecError(f"{self.path}{line}: {message}")

    def mapping(
        self,
        node: yaml.Node,
        what: str,
        required: dict[str, str],
        optional: dict[str, str],
    ) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of keys to values")
        allowed = {**required, **optional}
        values: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key not in allowed:
                raise self.fail(
                    key_node,
                    f"unknown key {key!r} in {what}; allowed keys: "
                    + ", ".join(sorted(allowed)),
                )
            if key in values:
                raise self.fail(key_node, f"key {key!r} appears twice in {what}")
            # A key of a whole file is named alone: "time_budget", not
            # "the grader spec.time_budget".
            name = key if what.startswith("the ") else f"{what}.{key}"
            values[key] = self.value(value_node, allowed[key], name)
        missing = [key for key in required if key not in values]
        if missing:
            raise self.fail(
                node, f"{what} is missing required key(s): {', '.join(missing)}"
            )
        return values

    def value(self, node: yaml.Node, kind: str, what: str) -> Any:
        data = SpecLoader(yaml.serialize(node)).get_single_data()
        checks = {
            "str": lambda v: isinstance(v, str) and v.strip() != "",
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "positive": lambda v: _is_number(v) and v > 0,
            "points": lambda v: _is_number(v) and v >= 0,
            "map": lambda v: isinstance(v, dict),
            "list": lambda v: isinstance(v, list),
            "strlist": lambda v: (
                isinstance(v, list) and all(isinstance(s, str) for s in v)
            ),
            "visibility": lambda v: v in VISIBILITIES,
            "number": lambda v: isinstance(v, str) and bool(NUMBER.match(v)),
            "bool": lambda v: isinstance(v, bool),
            "any": lambda v: True,
        }
        expected = {
            "str": "a non-empty string",
            "int": "a whole number >= 0",
            "positive": "a number > 0",
            "points": "a number >= 0",
            "map": "a mapping",
            "list": "a list",
            "strlist": "a list of strings",
            "visibility": "one of " + ", ".join(VISIBILITIES),
            "number": 'a quoted question number such as "3.1" or "3.1.2"',
            "bool": "true or false",
            "any": "anything",
        }
        if not checks[kind](data):
            raise self.fail(node, f"{what} must be {expected[kind]}, found {data!r}")
        return data

    def limits(self, node: yaml.Node | None, base: Limits, what: str) -> Limits:
        if node is None:
            return base
        kinds = {name: "positive" for name in LIMIT_KEYS}
        values = self.mapping(node, what, {}, kinds)
        return Limits(**{**base.__dict__, **values})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compose(path: Path) -> yaml.Node:
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=SpecLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: is not valid YAML: {exc}") from None
    if node is None:
        raise SpecError(f"{path}: is empty")
    return node


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    for key_node, value_node in node.value:
        if key_node.value == key:
            return value_node
    return None


TEST_REQUIRED = {"id": "str", "number": "number", "name": "str", "points": "points"}
TEST_OPTIONAL = {
    "check": "str",
    "visibility": "visibility",
    "timeout": "positive",
    "seed": "int",
    "params": "map",
    "tags": "strlist",
}
PART_REQUIRED = {"part": "str", "title": "str", "file": "str", "tests": "list"}
PART_OPTIONAL = {"limits": "map", "provided": "strlist", "defaults": "map"}
GRADER_REQUIRED = {"worker_user": "str", "threads": "positive", "limits": "map"}
GRADER_OPTIONAL = {
    "time_budget": "positive",
    "visibility": "visibility",
    "stdout_visibility": "visibility",
    "parts": "strlist",
    "launch_ahead": "bool",
}


def load_part(path: Path, base: Limits) -> PartSpec:
    """Load one part spec; raise SpecError naming the line of any mistake."""
    checker = _Checker(path)
    node = _compose(path)
    top = checker.mapping(node, "the part spec", PART_REQUIRED, PART_OPTIONAL)
    defaults = {}
    if "defaults" in top:
        defaults = checker.mapping(
            _child(node, "defaults"), "defaults", {}, TEST_OPTIONAL
        )
    limits = checker.limits(_child(node, "limits"), base, "limits")
    tests = []
    seen: dict[str, int] = {}
    for index, test_node in enumerate(_child(node, "tests").value):
        what = f"tests[{index}]"
        values = checker.mapping(test_node, what, TEST_REQUIRED, TEST_OPTIONAL)
        merged = {**defaults, **values}
        merged["params"] = {**defaults.get("params", {}), **values.get("params", {})}
        merged.setdefault("check", f"{top['part']}.{merged['id']}")
        merged["tags"] = tuple(merged.get("tags", ()))
        if merged["id"] in seen:
            raise checker.fail(test_node, f"test id {merged['id']!r} is used twice")
        seen[merged["id"]] = index
        tests.append(TestSpec(**merged))
    if not tests:
        raise checker.fail(node, "the part spec has no tests")
    return PartSpec(
        part=top["part"],
        title=top["title"],
        file=top["file"],
        tests=tuple(tests),
        limits=limits,
        provided=tuple(top.get("provided", ())),
        source=str(path),
    )


def load(spec_dir: Path) -> GraderSpec:
    """Load ``grader.yaml`` and the part specs it lists (all by default)."""
    path = spec_dir / "grader.yaml"
    checker = _Checker(path)
    node = _compose(path)
    top = checker.mapping(node, "the grader spec", GRADER_REQUIRED, GRADER_OPTIONAL)
    limits = checker.limits(_child(node, "limits"), Limits(), "limits")
    names = top.get("parts") or sorted(
        p.stem for p in spec_dir.glob("*.yaml") if p.name != "grader.yaml"
    )
    parts = []
    for name in names:
        part_path = spec_dir / f"{name}.yaml"
        if not part_path.is_file():
            raise checker.fail(_child(node, "parts"), f"no spec file {part_path.name}")
        parts.append(load_part(part_path, limits))
    numbers: dict[str, str] = {}
    for part in parts:
        for test in part.tests:
            key = f"{part.part}.{test.id}"
            if test.number in numbers:
                raise SpecError(
                    f"{part.source}: test {test.id!r} has number {test.number}, "
                    f"already used by {numbers[test.number]}; numbers must be unique"
                )
            numbers[test.number] = key
    return GraderSpec(
        worker_user=top["worker_user"],
        threads=int(top["threads"]),
        limits=limits,
        time_budget=float(top.get("time_budget", 1800)),
        visibility=top.get("visibility", "visible"),
        stdout_visibility=top.get("stdout_visibility", "hidden"),
        parts=tuple(parts),
        launch_ahead=top.get("launch_ahead", True),
    )
