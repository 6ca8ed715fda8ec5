"""The spec loader: good specs load, every kind of mistake is refused with
the file, the line and what is allowed."""

from __future__ import annotations

import textwrap

import pytest

from autograder import spec
from autograder.errors import SpecError
from autograder.runner import SPECS
from autograder.sandbox import Limits

GOOD = """\
part: demo
title: "Demo part"
file: demo.py
defaults:
  timeout: 5
  params: {tolerance: 1.0e-6}
tests:
  - id: first
    number: "9.1.1"
    name: "first test"
    points: 2
    params: {scale: 1e4}
  - id: second
    number: "9.1.2"
    name: "second test"
    points: 1.5
    visibility: hidden
    timeout: 9
"""


def write(tmp_path, text, name="demo.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_good_part_spec_loads_with_defaults_merged(tmp_path):
    part = spec.load_part(write(tmp_path, GOOD), Limits())
    first, second = part.tests
    assert (first.check, first.timeout, first.points) == ("demo.first", 5, 2)
    assert first.params == {"tolerance": 1e-6, "scale": 1e4}
    assert isinstance(first.params["scale"], float)
    assert (second.visibility, second.timeout) == ("hidden", 9)


REFUSALS = [
    (
        GOOD.replace("    points: 1.5\n", "    points: 1.5\n    pionts: 3\n"),
        "line 17: unknown key 'pionts' in tests[1]; allowed keys: check, id, name, "
        "number, params, points, seed, tags, timeout, visibility",
    ),
    (
        GOOD.replace("    points: 2\n", ""),
        "line 8: tests[0] is missing required key(s): points",
    ),
    (
        GOOD.replace("visibility: hidden", "visibility: secret"),
        "line 17: tests[1].visibility must be one of visible, hidden, "
        "after_due_date, after_published, found 'secret'",
    ),
    (
        GOOD.replace('number: "9.1.1"', "number: 9.1"),
        'line 9: tests[0].number must be a quoted question number such as "3.1" '
        'or "3.1.2", found 9.1',
    ),
    (
        GOOD.replace("points: 2\n", "points: -2\n"),
        "line 11: tests[0].points must be a number >= 0, found -2",
    ),
    (
        GOOD.replace("id: second", "id: first"),
        "line 13: test id 'first' is used twice",
    ),
    (
        GOOD.replace("title:", "titel:"),
        "line 2: unknown key 'titel' in the part spec; allowed keys: defaults, "
        "file, limits, part, provided, tests, title",
    ),
    (
        GOOD + "limits: {memory_gb: 2}\n",
        "line 19: unknown key 'memory_gb' in limits; allowed keys: answer_mb, "
        "disk_mb, file_size_mb, memory_mb, open_files, output_kb, processes, "
        "startup_timeout",
    ),
    ("part: [unclosed\n", "is not valid YAML"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("text", "message"), REFUSALS)
def test_mistakes_are_refused_with_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as caught:
        spec.load_part(path, Limits())
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_grader_spec_refuses_duplicate_numbers_across_parts(tmp_path):
    write(tmp_path, "worker_user: w\nthreads: 1\nlimits: {}\n", "grader.yaml")
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("part: demo", "part: other"), "b.yaml")
    with pytest.raises(SpecError, match="number 9.1.1, already used by demo.first"):
        spec.load(tmp_path)


def test_grader_spec_limits_reach_every_part(tmp_path):
    write(
        tmp_path,
        "worker_user: w\nthreads: 1\nlimits: {memory_mb: 1000}\n",
        "grader.yaml",
    )
    write(tmp_path, GOOD + "limits: {processes: 8}\n", "a.yaml")
    loaded = spec.load(tmp_path)
    assert loaded.parts[0].limits.memory_mb == 1000
    assert loaded.parts[0].limits.processes == 8


def test_grader_spec_refuses_a_launch_ahead_that_is_not_a_boolean(tmp_path):
    write(
        tmp_path,
        "worker_user: w\nthreads: 1\nlimits: {}\nlaunch_ahead: sometimes\n",
        "grader.yaml",
    )
    write(tmp_path, GOOD, "a.yaml")
    with pytest.raises(SpecError) as caught:
        spec.load(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'grader.yaml'}, line 4: launch_ahead must be true or false, "
        "found 'sometimes'"
    )
    write(
        tmp_path,
        "worker_user: w\nthreads: 1\nlimits: {}\nlaunch_ahead: false\n",
        "grader.yaml",
    )
    assert spec.load(tmp_path).launch_ahead is False


def test_shipped_specs_load_and_name_registered_checks():
    from autograder import checks

    loaded = spec.load(SPECS)
    registered = set(checks.names())
    for part in loaded.parts:
        for test in part.tests:
            assert test.check in registered, f"{part.source}: {test.check}"
