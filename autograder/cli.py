"""The command line: ``python -m autograder COMMAND``.

Each command lives in a module of its own; this file only wires arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import bundle, handout, regrade, regress, report, runner
from .errors import SpecError

GRADESCOPE_SUBMISSION = Path("/autograder/submission")
GRADESCOPE_RESULTS = Path("/autograder/results/results.json")


def _grade(args: argparse.Namespace) -> int:
    source = args.submission or GRADESCOPE_SUBMISSION
    target = args.results or (
        GRADESCOPE_RESULTS if args.submission is None else Path("results.json")
    )
    try:
        document = runner.grade(
            Path(source), Path(target), Path(args.specs), args.part, args.cpus
        )
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(
            f"A results.json reporting the error was written to {target}.",
            file=sys.stderr,
        )
        return 2
    if not args.quiet:
        print(report.table(document))
        print(f"\nresults written to {target}")
    return 0


def _handout(args: argparse.Namespace) -> int:
    written = handout.generate(Path(args.solutions), Path(args.out_dir))
    print(f"wrote {len(written)} handout files to {args.out_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Grade deep-learning homework submissions for Gradescope.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debugging details to stderr"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    grade = commands.add_parser(
        "grade",
        help="grade one submission and write results.json",
        description=(
            "Grade a submission folder or .zip. Without SUBMISSION, grades "
            f"{GRADESCOPE_SUBMISSION} and writes {GRADESCOPE_RESULTS} (Gradescope)."
        ),
    )
    grade.add_argument("submission", nargs="?", help="a submission folder or .zip")
    grade.add_argument("--results", help="where to write results.json")
    grade.add_argument("--specs", default=str(runner.SPECS), help="the specs folder")
    grade.add_argument(
        "--part", action="append", help="grade only this part (repeatable)"
    )
    grade.add_argument(
        "--cpus",
        type=float,
        help="the CPUs this grade may count on (default: what the machine "
        "gives it); the next part's worker is launched ahead only with 2 or more",
    )
    grade.add_argument("-q", "--quiet", action="store_true", help="print no table")
    grade.set_defaults(handler=_grade)

    hand = commands.add_parser(
        "handout",
        help="generate the student starter files from solutions/",
        description=(
            "Write the handout: every file of the solutions with its "
            "'# BEGIN SOLUTION' blocks replaced by their stubs."
        ),
    )
    hand.add_argument("out_dir", help="the folder to write the handout into")
    hand.add_argument(
        "--solutions", default=str(runner.SOLUTIONS), help="the solutions folder"
    )
    hand.set_defaults(handler=_handout)

    for module in (regress, regrade, bundle):
        module.register(commands)
    # Also after the command (./run_autograder -v SUBMISSION puts it there).
    for command in commands.choices.values():
        command.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=argparse.SUPPRESS,
            help="log debugging details to stderr",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    return args.handler(args)
