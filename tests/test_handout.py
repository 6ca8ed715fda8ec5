"""The handout generator: marker rendering, refusals, and the two copies of
the solutions kept in submissions/ (the starter files and the reference)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder import cli, handout
from autograder.errors import GraderError

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
SAMPLE_FILES = ("expected.yaml",)


def files(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` but caches and the sample's expected.yaml."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.name not in SAMPLE_FILES
    }


def test_solution_block_is_replaced_by_its_stub():
    text = (
        "def f(x):\n"
        '    """Add one."""\n'
        "    # BEGIN SOLUTION\n"
        "    y = x + 1\n"
        "    return y\n"
        "    # END SOLUTION\n"
        "    # BEGIN STUB\n"
        "    # y = None  # your code\n"
        "    #\n"
        "    # return y\n"
        "    # END STUB\n"
        "\n"
        "CONSTANT = 3\n"
    )
    assert handout.render(text, "f.py") == (
        "def f(x):\n"
        '    """Add one."""\n'
        "    y = None  # your code\n"
        "\n"
        "    return y\n"
        "\n"
        "CONSTANT = 3\n"
    )


def test_solution_block_without_stub_raises_not_implemented_at_its_indent():
    text = "class A:\n    def f(self):\n        # BEGIN SOLUTION\n        return 1\n"
    text += "        # END SOLUTION\n"
    assert handout.render(text, "a.py") == (
        "class A:\n    def f(self):\n        raise NotImplementedError\n"
    )


def test_yaml_answers_lose_their_values():
    text = "# BEGIN SOLUTION\nq1_5: no\n# END SOLUTION\n# BEGIN STUB\n# q1_5:\n# END STUB\n"
    assert handout.render(text, "answers.yaml") == "q1_5:\n"


def test_text_without_markers_is_unchanged():
    text = "import torch\n\n# a comment\nx = 1  # BEGIN SOLUTION is not a marker here\n"
    assert handout.render(text, "m.py") == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n# END SOLUTION\n", "m.py, line 2: unexpected END SOLUTION marker"),
        ("# BEGIN STUB\n# x = 0\n", "m.py, line 1: unexpected BEGIN STUB marker"),
        (
            "# BEGIN SOLUTION\nx = 1\n",
            "m.py: '# END SOLUTION' is missing after line 1",
        ),
        (
            "# BEGIN SOLUTION\n# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n",
            "m.py, line 2: expected '# END SOLUTION' before another marker",
        ),
        (
            "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# BEGIN STUB\n# x = 0\n",
            "m.py: '# END STUB' is missing after line 4",
        ),
        (
            "# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n# BEGIN STUB\nx = 0\n# END STUB\n",
            "m.py, line 5: a stub line must start with '# '",
        ),
    ],
)
def test_broken_markers_are_refused_with_file_and_line(text, message):
    with pytest.raises(GraderError) as caught:
        handout.render(text, "m.py")
    assert str(caught.value) == message


def test_generate_renders_code_and_copies_other_files(tmp_path):
    solutions = tmp_path / "solutions"
    (solutions / "pkg" / "__pycache__").mkdir(parents=True)
    (solutions / "a.py").write_text("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n")
    (solutions / "pkg" / "b.yaml").write_text("k: v\n")
    (solutions / "pkg" / "__pycache__" / "a.cpython.pyc").write_bytes(b"\0")
    (solutions / "image.png").write_bytes(b"\x89PNG# BEGIN SOLUTION\n")
    target = tmp_path / "out"

    written = handout.generate(solutions, target)

    assert sorted(p.relative_to(target).as_posix() for p in written) == [
        "a.py",
        "image.png",
        "pkg/b.yaml",
    ]
    assert (target / "a.py").read_text() == "raise NotImplementedError\n"
    assert (target / "image.png").read_bytes() == b"\x89PNG# BEGIN SOLUTION\n"


def test_command_writes_the_handout(tmp_path, capsys):
    assert cli.main(["handout", str(tmp_path / "out")]) == 0
    assert files(tmp_path / "out") == files(ROOT / "submissions" / "starter")
    assert "handout files" in capsys.readouterr().out


def test_starter_is_the_handout_of_the_current_solutions(tmp_path):
    handout.generate(SOLUTIONS, tmp_path)
    generated = files(tmp_path)
    starter = files(ROOT / "submissions" / "starter")
    assert sorted(starter) == sorted(generated), (
        "submissions/starter/ has other files than the handout; regenerate it "
        "with: python -m autograder handout submissions/starter"
    )
    stale = [name for name in generated if starter[name] != generated[name]]
    assert not stale, (
        f"submissions/starter/ differs from the handout in {stale}; regenerate it "
        "with: python -m autograder handout submissions/starter"
    )


def test_reference_is_a_copy_of_the_solutions():
    solutions = files(SOLUTIONS)
    reference = files(ROOT / "submissions" / "reference")
    assert sorted(reference) == sorted(solutions)
    differing = [name for name in solutions if reference[name] != solutions[name]]
    assert not differing, (
        f"submissions/reference/ differs from solutions/ in {differing}; copy "
        "the solutions over it"
    )
