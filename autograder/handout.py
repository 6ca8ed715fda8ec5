"""Generating the student handout from the reference solutions.

Every file of ``solutions/`` is handed out. Inside a file, the lines
between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` are removed; a block
``# BEGIN STUB`` … ``# END STUB`` right after it is uncommented (one ``# ``
after the indentation is dropped) and takes its place. Where a solution
block has no stub block, ``raise NotImplementedError`` is put at its
indentation. The markers work the same in Python and YAML files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .errors import GraderError

MARKER = re.compile(r"^(\s*)# (BEGIN|END) (SOLUTION|STUB)\s*$")
SKIPPED = ("__pycache__",)


def _uncomment(line: str, indent: str) -> str:
    body = line[len(indent) :] if line.startswith(indent) else line.lstrip()
    if body.startswith("# "):
        return indent + body[2:]
    if body.rstrip() == "#":
        return ""
    raise ValueError(body)


def render(text: str, name: str) -> str:
    """The handout version of one solution file's text."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = MARKER.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        indent, edge, kind = match.groups()
        if (edge, kind) != ("BEGIN", "SOLUTION"):
            raise GraderError(
                f"{name}, line {index + 1}: unexpected {edge} {kind} marker"
            )
        end = _find(lines, index + 1, "END SOLUTION", name)
        index = end + 1
        if index < len(lines) and re.match(r"^\s*# BEGIN STUB\s*$", lines[index]):
            stop = _find(lines, index + 1, "END STUB", name)
            for number in range(index + 1, stop):
                try:
                    out.append(_uncomment(lines[number].rstrip("\n"), indent) + "\n")
                except ValueError:
                    raise GraderError(
                        f"{name}, line {number + 1}: a stub line must start with '# '"
                    ) from None
            index = stop + 1
        else:
            out.append(f"{indent}raise NotImplementedError\n")
    return "".join(out)


def _find(lines: list[str], start: int, marker: str, name: str) -> int:
    for number in range(start, len(lines)):
        match = MARKER.match(lines[number])
        if match and " ".join(match.groups()[1:]) == marker:
            return number
        if match:
            raise GraderError(
                f"{name}, line {number + 1}: expected '# {marker}' before another marker"
            )
    raise GraderError(f"{name}: '# {marker}' is missing after line {start}")


def generate(solutions: Path, target: Path) -> list[Path]:
    """Write the handout of ``solutions`` into ``target``; return its files."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(solutions.rglob("*")):
        relative = path.relative_to(solutions)
        if path.is_dir() or any(part in SKIPPED for part in relative.parts):
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix in (".py", ".yaml", ".yml"):
            text = path.read_text(encoding="utf-8")
            destination.write_text(render(text, str(relative)), encoding="utf-8")
        else:
            shutil.copyfile(path, destination)
        written.append(destination)
    return written
