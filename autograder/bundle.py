"""The zip uploaded to Gradescope as the autograder, and its verification.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh``
from there once when it builds the image, copies ``run_autograder`` to
``/autograder/run_autograder`` and runs it for every submission, with the
student's files in ``/autograder/submission`` and the results expected in
``/autograder/results/results.json``.

The zip holds what grading needs and nothing else: the two scripts at its
root, the package, the specs, the solutions (the checks compute reference
values from them), the data and the requirements. Tests, samples,
benchmarks, version control and caches stay out. Entries are sorted and
dated 1980-01-01, so the same tree always gives the same bytes.

The verification unpacks the zip into a temporary ``/autograder``-shaped
tree and grades the reference submission there with the unpacked code.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from . import runner, spec
from .errors import GraderError, SpecError

log = logging.getLogger(__name__)

ROOT = runner.ROOT
SCRIPTS = ("setup.sh", "run_autograder")
FOLDERS = ("autograder", "specs", "solutions", "data")
LEFT_OUT_PARTS = {
    "__pycache__",
    ".git",
    ".venv",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".ipynb_checkpoints",
}
LEFT_OUT_SUFFIXES = (".pyc", ".pyo", ".swp")
FORBIDDEN_TOP = ("tests", "submissions", "benchmarks", ".git", ".venv", ".ci")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
REFERENCE = ROOT / "submissions" / "reference"


def members(root: Path = ROOT) -> list[str]:
    """The files of ``root`` that go into the zip, as sorted relative paths."""
    chosen = [root / name for name in SCRIPTS]
    chosen += sorted(root.glob("requirements*.txt"))
    for folder in FOLDERS:
        chosen += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    names = []
    for path in chosen:
        relative = path.relative_to(root)
        if not path.is_file():
            raise GraderError(f"{relative} is missing from {root}")
        if path.is_symlink():
            raise GraderError(f"{relative} is a symbolic link; the zip takes files")
        if set(relative.parts) & LEFT_OUT_PARTS or path.name.startswith(".#"):
            continue
        if relative.suffix in LEFT_OUT_SUFFIXES:
            continue
        names.append(relative.as_posix())
    return sorted(names)


def build(target: Path, root: Path = ROOT) -> list[str]:
    """Write the upload zip to ``target``; return the names it holds."""
    names = members(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            mode = 0o755 if name in SCRIPTS else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / name).read_bytes())
    log.info("wrote %s with %d files", target, len(names))
    return names


def refusals(names: list[str]) -> list[str]:
    """What is wrong with a zip holding ``names``; empty when it is right."""
    problems = [f"{s} is not at the root of the zip" for s in SCRIPTS if s not in names]
    for name in names:
        parts = PurePosixPath(name).parts
        if parts[0] in FORBIDDEN_TOP or set(parts) & LEFT_OUT_PARTS:
            problems.append(f"{name} must not be in the zip")
        elif name.endswith(LEFT_OUT_SUFFIXES):
            problems.append(f"{name} is a cache or editor file")
    return problems


def _unpack(archive: Path, source: Path) -> list[str]:
    with zipfile.ZipFile(archive) as bundle:
        names = [m.filename for m in bundle.infolist() if not m.is_dir()]
        for member in bundle.infolist():
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts:
                raise GraderError(f"{archive}: bad entry {member.filename!r}")
            bundle.extract(member, source)
            mode = (member.external_attr >> 16) & 0o777
            if mode:
                os.chmod(source / member.filename, mode)
    return names


def verify(archive: Path, reference: Path = REFERENCE, timeout: float = 1800) -> dict:
    """Unpack ``archive`` into a temporary Gradescope-shaped tree, grade
    ``reference`` there with the unpacked code, and return results.json;
    raise GraderError unless every test got full marks."""
    with tempfile.TemporaryDirectory(prefix="dlag-zipcheck-") as temporary:
        tree = Path(temporary) / "autograder"
        source = tree / "source"
        source.mkdir(parents=True)
        names = _unpack(archive, source)
        problems = refusals(names)
        if problems:
            raise GraderError(f"{archive}: " + "; ".join(problems))
        shutil.copy2(source / "run_autograder", tree / "run_autograder")
        # What setup.sh leaves: the environment linked as source/.venv.
        (source / ".venv").symlink_to(os.path.realpath(sys.prefix))
        submission = tree / "submission"
        shutil.copytree(
            reference, submission, ignore=shutil.ignore_patterns("expected.yaml")
        )
        results = tree / "results" / "results.json"
        results.parent.mkdir()
        spec.load(source / "specs")  # the shipped specs must load
        command = [str(source / "run_autograder"), str(submission)]
        command += ["--results", str(results), "--quiet"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        done = subprocess.run(
            command,
            cwd=source,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0 or not results.is_file():
            raise GraderError(
                f"grading in the unpacked tree failed (exit {done.returncode}):\n"
                + done.stderr[-3000:]
            )
        document = json.loads(results.read_text(encoding="utf-8"))
    _require_full_marks(document)
    return document


def _require_full_marks(document: dict) -> None:
    tests = document["tests"]
    possible = sum(t["max_score"] for t in tests)
    short = [
        f"{t['number']} ({t['score']:g} of {t['max_score']:g})"
        for t in tests
        if t["score"] < t["max_score"] or "grader-error" in t["tags"]
    ]
    if not tests or possible <= 0 or short:
        raise GraderError(
            "the reference did not get full marks in the unpacked tree: "
            + (", ".join(short) or "no tests were graded")
        )


def _run(args: argparse.Namespace) -> int:
    target = Path(args.out)
    try:
        names = build(target)
        size = target.stat().st_size / 1024
        print(f"wrote {target}: {len(names)} files, {size:.0f} KB")
        if args.no_verify:
            return 0
        document = verify(target, Path(args.reference))
    except (GraderError, SpecError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    possible = sum(t["max_score"] for t in document["tests"])
    print(
        f"verified: {args.reference} got {document['score']:g} / {possible:g} "
        "when graded by the unpacked zip in a /autograder-shaped tree"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``zip`` command."""
    parser = commands.add_parser(
        "zip",
        help="build the autograder zip for Gradescope and verify it",
        description=(
            "Write the zip to upload to Gradescope (setup.sh and run_autograder "
            "at its root, the package, specs, solutions, data and requirements; "
            "no tests, samples, benchmarks or caches), then unpack it into a "
            "temporary /autograder-shaped tree and check that the reference "
            "submission gets full marks there."
        ),
    )
    parser.add_argument("out", metavar="OUT.zip", help="where to write the zip")
    parser.add_argument(
        "--reference",
        default=str(REFERENCE),
        help="the submission that must get full marks (submissions/reference)",
    )
    parser.add_argument(
        "--no-verify", action="store_true", help="build the zip without checking it"
    )
    parser.set_defaults(handler=_run)
