"""Regrading a whole class: a Gradescope export or any folder of submissions.

A Gradescope export ("Export Submissions") is a folder, or its .zip, with
one folder per submission and ``submission_metadata.yml``, which maps each
folder name to its submitters (``:name:``, ``:email:``, ``:sid:``). Any
other folder is taken as a folder of submissions: each subfolder and each
.zip file in it is one. Every submission is graded in a process of its own
(``autograder.batch``), here or on a Dask cluster, and gets one row of the
grades CSV, even when its grading timed out or crashed.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import shutil
import sys
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from . import batch, runner, spec
from .errors import GraderError, SpecError
from .regress import number_order, question_of

log = logging.getLogger(__name__)

METADATA = "submission_metadata.yml"
MESSAGE_CHARS = 300
SKIPPED_NAMES = ("__MACOSX",)


@dataclass(frozen=True)
class Submitter:
    name: str = ""
    email: str = ""
    sid: str = ""


class _MetadataLoader(yaml.SafeLoader):
    """SafeLoader that reads Ruby-tagged values (``!ruby/object:...``), which
    Gradescope's YAML may hold, as plain mappings, lists and strings."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_MetadataLoader.add_constructor(None, _untagged)


def _plain_mapping(value, path: Path, where: str) -> dict:
    """A mapping with Ruby's symbol colons taken off its keys."""
    if not isinstance(value, dict):
        raise GraderError(f"{path}: {where} must be a mapping, found {value!r}")
    return {str(key).lstrip(":"): item for key, item in value.items()}


def read_metadata(path: Path) -> dict[str, list[Submitter]]:
    """The submitters of each submission folder named in the metadata."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_MetadataLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise GraderError(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(data, dict):
        raise GraderError(f"{path}: expected a mapping of submission folders")
    people = {}
    for folder, entry in data.items():
        name = str(folder)
        if "/" in name or name in (".", ".."):
            raise GraderError(f"{path}: {name!r} is not a submission folder name")
        fields = _plain_mapping(entry or {}, path, name)
        people[name] = [
            Submitter(
                name=str(person.get("name") or ""),
                email=str(person.get("email") or ""),
                sid=str(person.get("sid") or ""),
            )
            for person in (
                _plain_mapping(raw, path, f"{name} :submitters:")
                for raw in fields.get("submitters") or []
            )
        ]
    return people


def unpack(archive: Path, target: Path) -> None:
    """Extract an export .zip, refusing entries that leave ``target``."""
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.infolist():
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts:
                raise GraderError(
                    f"{archive}: the entry {member.filename!r} points outside the "
                    "export folder"
                )
            if member.is_dir() or (member.external_attr >> 16) & 0o170000 == 0o120000:
                continue
            destination = target.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, open(destination, "wb") as sink:
                shutil.copyfileobj(source, sink)


def _export_root(folder: Path) -> Path:
    """The folder with the metadata: ``folder`` or its only subfolder."""
    if (folder / METADATA).is_file():
        return folder
    children = [
        p for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED_NAMES
    ]
    if len(children) == 1 and (children[0] / METADATA).is_file():
        return children[0]
    return folder


def find_submissions(
    folder: Path,
) -> tuple[list[batch.Job], dict[str, list[Submitter]]]:
    """The submissions of an export (or of a plain folder) and their people."""
    root = _export_root(folder)
    people: dict[str, list[Submitter]] = {}
    if (root / METADATA).is_file():
        people = read_metadata(root / METADATA)
    names = set(people)
    for path in root.iterdir():
        if path.name.startswith(".") or path.name in SKIPPED_NAMES:
            continue
        if path.is_dir() or (path.is_file() and path.suffix == ".zip"):
            names.add(path.name)
    missing = sorted(name for name in people if not (root / name).exists())
    if missing:
        log.warning(
            "%d submission(s) of %s have no folder and get 0: %s",
            len(missing),
            METADATA,
            ", ".join(missing),
        )
    unlisted = sorted(names - set(people)) if people else []
    if unlisted:
        log.warning("folders not in %s: %s", METADATA, ", ".join(unlisted))
    jobs = [batch.Job(name, path=str(root / name)) for name in sorted(names)]
    return jobs, people


def grade_on_cluster(
    address: str, jobs: list[batch.Job], settings: batch.Settings, progress: bool
) -> list[batch.Outcome]:
    """Grade ``jobs`` on the Dask cluster at ``address``; the submissions and
    the specs travel as bytes, the grader's code is the workers' own."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise GraderError(
            "--scheduler needs dask.distributed (requirements-dev.txt)"
        ) from None
    outcomes = {}
    with Client(address, timeout="30s") as client:
        futures = {}
        for job in jobs:
            shipped, shipped_settings = batch.for_cluster(job, settings)
            key = f"dlag-grade-{job.name}-{uuid.uuid4().hex}"
            future = client.submit(
                batch.grade, shipped, shipped_settings, key=key, pure=False
            )
            futures[future] = job.name
        done = batch.progress_bar(as_completed(futures), len(futures), progress)
        for future in done:
            name = futures[future]
            try:
                outcomes[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost task still gets a row
                log.error("the cluster could not grade %s: %s", name, exc)
                outcomes[name] = batch.Outcome(
                    name, batch.CRASHED, None, 0.0, f"the cluster failed: {exc!r}"
                )
    return [outcomes[job.name] for job in jobs]


def questions(grader: spec.GraderSpec) -> dict[str, float]:
    """The points possible per question, in question order."""
    totals: dict[str, float] = {}
    for part in grader.parts:
        for test in part.tests:
            question = question_of(test.number)
            totals[question] = totals.get(question, 0.0) + test.points
    return dict(sorted(totals.items(), key=lambda item: number_order(item[0])))


def _number(value: float) -> str:
    return format(round(value, 6), ".10g")


def grade_rows(
    outcomes: list[batch.Outcome],
    people: dict[str, list[Submitter]],
    grader: spec.GraderSpec,
) -> list[dict[str, str]]:
    """One row per submission: who, how it went, the score and per question
    points (0 where grading produced no results)."""
    possible = questions(grader)
    rows = []
    for outcome in outcomes:
        earned = dict.fromkeys(possible, 0.0)
        score = 0.0
        if outcome.document is not None:
            score = float(outcome.document["score"])
            for test in outcome.document["tests"]:
                question = question_of(test["number"])
                if question in earned:
                    earned[question] += test["score"]
        who = people.get(outcome.name, [])
        message = " ".join(outcome.message.split())
        rows.append(
            {
                "submission": outcome.name,
                "names": "; ".join(p.name for p in who),
                "emails": "; ".join(p.email for p in who),
                "sids": "; ".join(p.sid for p in who),
                "status": outcome.status,
                "score": _number(score),
                "max_score": _number(sum(possible.values())),
                **{q: _number(v) for q, v in earned.items()},
                "message": message[:MESSAGE_CHARS],
            }
        )
    return rows


def pass_rates(
    outcomes: list[batch.Outcome], grader: spec.GraderSpec
) -> list[dict[str, str]]:
    """Per test, in number order: how many graded submissions passed it, and
    the mean points."""
    entries: dict[str, list[dict]] = {}
    for outcome in outcomes:
        for entry in (outcome.document or {}).get("tests", []):
            entries.setdefault(entry["number"], []).append(entry)
    tests = [test for part in grader.parts for test in part.tests]
    summary = []
    for test in sorted(tests, key=lambda t: number_order(t.number)):
        found = entries.get(test.number, [])
        passed = sum(entry["status"] == "passed" for entry in found)
        mean = sum(entry["score"] for entry in found) / len(found) if found else 0.0
        summary.append(
            {
                "number": test.number,
                "name": test.name,
                "points": _number(test.points),
                "passed": str(passed),
                "graded": str(len(found)),
                "pass_rate": f"{100 * passed / len(found):.1f}" if found else "",
                "mean_points": _number(mean),
            }
        )
    return summary


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


def summary_table(summary: list[dict[str, str]]) -> str:
    width = max([len(row["number"]) for row in summary] + [4])
    lines = [f"{'test':<{width}}  {'passed':>13}  {'rate':>6}  {'mean':>6}  name"]
    for row in summary:
        count = f"{row['passed']} / {row['graded']}"
        rate = f"{row['pass_rate']}%" if row["pass_rate"] else "-"
        lines.append(
            f"{row['number']:<{width}}  {count:>13}  {rate:>6}  "
            f"{row['mean_points']:>6}  {row['name']}"
        )
    return "\n".join(lines)


def _summary_path(args: argparse.Namespace) -> Path:
    if args.summary:
        return Path(args.summary)
    grades = Path(args.csv)
    return grades.with_name(grades.stem + "-tests.csv")


def _run(args: argparse.Namespace) -> int:
    export = Path(args.export)
    specs = Path(args.specs)
    unpacked = None
    try:
        grader = spec.load(specs)
        if args.part:
            grader = runner._only(grader, args.part)
        if export.is_file() and export.suffix == ".zip":
            unpacked = Path(tempfile.mkdtemp(prefix="dlag-export-"))
            unpack(export, unpacked)
            export = unpacked
        if not export.is_dir():
            raise GraderError(f"{export} is not a folder or a .zip file")
        jobs, people = find_submissions(export)
        if not jobs:
            raise GraderError(f"{args.export} holds no submission folders or zips")
        timeout = args.timeout or grader.time_budget + 300
        settings = batch.Settings(
            specs=str(specs.resolve()),
            parts=tuple(args.part or ()),
            timeout=timeout,
        )
        print(f"grading {len(jobs)} submissions of {args.export}", file=sys.stderr)
        if args.scheduler:
            outcomes = grade_on_cluster(args.scheduler, jobs, settings, True)
        else:
            outcomes = batch.grade_all(jobs, settings, args.jobs, progress=True)
    except (SpecError, GraderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if unpacked is not None:
            shutil.rmtree(unpacked, ignore_errors=True)
    write_csv(Path(args.csv), grade_rows(outcomes, people, grader))
    summary = pass_rates(outcomes, grader)
    write_csv(_summary_path(args), summary)
    print(summary_table(summary))
    counts = {}
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    print(
        f"\n{len(outcomes)} submissions: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    )
    print(f"grades written to {args.csv}, per test summary to {_summary_path(args)}")
    return 0 if counts.get(batch.GRADED, 0) == len(outcomes) else 1


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``regrade`` command."""
    parser = commands.add_parser(
        "regrade",
        help="grade a Gradescope export (or a folder of submissions) into a CSV",
        description=(
            "Grade every submission of a Gradescope export (a folder or .zip with "
            f"{METADATA}) or of any folder of submission folders, each in a "
            "process of its own, in parallel here or on a Dask cluster. Writes "
            "one CSV row per submission (submitters, status, score, points per "
            "question) and a per test pass-rate summary. Exits 1 when some "
            "submission timed out, crashed or hit a grader fault."
        ),
    )
    parser.add_argument("export", help="the export folder or .zip")
    parser.add_argument(
        "--csv", default="grades.csv", help="where to write the grades (grades.csv)"
    )
    parser.add_argument(
        "--summary", help="where to write the per test summary (GRADES-tests.csv)"
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="submissions graded at once here (default: the number of cores)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the Dask cluster of this scheduler (tcp://host:8786)",
    )
    parser.add_argument("--specs", default=str(runner.SPECS), help="the specs folder")
    parser.add_argument(
        "--part", action="append", help="grade only this part (repeatable)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds after which one submission's grading is stopped "
        "(default: the specs' time budget plus 300)",
    )
    parser.set_defaults(handler=_run)
