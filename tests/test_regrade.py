"""Batch regrading: a fake Gradescope export of broken and working
submissions, graded for part 3 only, here and on a local Dask cluster."""

from __future__ import annotations

import csv
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from autograder import batch, cli, regrade

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "solutions" / "attention.py").read_text()
NAIVE = """\
import torch

def attention_weights(q, K):
    e = torch.exp(K @ q)
    return e / e.sum()

def attention(q, K, V):
    return attention_weights(q, K) @ V
"""
BROKEN = {
    "syntax": {"attention.py": "def attention_weights(q, K)\n    return q\n"},
    "loop_in_call": {
        "attention.py": "def attention_weights(q, K):\n    while True:\n        pass\n"
        "\ndef attention(q, K, V):\n    while True:\n        pass\n"
    },
    "loop_at_import": {"attention.py": "while True:\n    pass\n"},
    "exits_at_import": {"attention.py": "import os\nos._exit(1)\n"},
    "raises": {
        "attention.py": "def attention_weights(q, K):\n    raise ValueError('nope')\n"
        "\ndef attention(q, K, V):\n    print('x' * 100000)\n    return None\n"
    },
    "wrong_name": {"attn.py": REFERENCE},
    "empty": {},
}
EXPECTED_SCORE = {"correct": 6, "naive": 4, "nested": 6, **dict.fromkeys(BROKEN, 0)}


def attention_specs(folder: Path, timeout: float) -> Path:
    """The repository's grader settings and the tests of question 3.1 only
    (6 points), each call into the student's code limited to ``timeout``
    seconds."""
    folder.mkdir()
    grader = yaml.safe_load((ROOT / "specs" / "grader.yaml").read_text())
    grader["parts"] = ["attention"]
    (folder / "grader.yaml").write_text(yaml.safe_dump(grader))
    part = yaml.safe_load((ROOT / "specs" / "attention.yaml").read_text())
    part["tests"] = [t for t in part["tests"] if t["number"].startswith("3.1.")]
    part.setdefault("defaults", {})["timeout"] = timeout
    for test in part["tests"]:
        test.pop("timeout", None)
    (folder / "attention.yaml").write_text(yaml.safe_dump(part, sort_keys=False))
    return folder


def submission(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def kind_of(name: str) -> str:
    return name.split("-")[1]


def make_export(folder: Path) -> dict[str, list[dict]]:
    """A Gradescope-shaped export of 22 submissions, 9 of them broken; return
    its metadata."""
    kinds = {"correct": 9, "naive": 4, "nested": 1}
    contents = {
        "correct": {"attention.py": REFERENCE},
        "naive": {"attention.py": NAIVE},
    }
    contents["nested"] = {"my_homework/attention.py": REFERENCE}
    metadata = {}
    number = 100
    for kind, count in [*kinds.items(), *((k, 1) for k in BROKEN)]:
        for _ in range(count):
            number += 1
            name = f"submission_{number}-{kind}"
            submission(folder / name, contents.get(kind) or BROKEN[kind])
            metadata[name] = {
                ":submitters": [
                    {
                        ":name": f"Student {number}",
                        ":sid": str(number),
                        ":email": f"s{number}@example.edu",
                    }
                ],
                ":created_at": "2026-03-01 12:00:00.000000000 -08:00",
                ":score": 0.0,
            }
    group = next(n for n in metadata if kind_of(n) == "naive")
    metadata[group][":submitters"].append(
        {":name": "Partner Two", ":sid": "999", ":email": "p2@example.edu"}
    )
    metadata["submission_199-empty"] = {
        ":submitters": [{":name": "No Files", ":sid": "199", ":email": "nf@x.edu"}]
    }
    (folder / regrade.METADATA).write_text(yaml.safe_dump(metadata))
    return metadata


def read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as stream:
        return {
            row.get("submission", row.get("number")): row
            for row in csv.DictReader(stream)
        }


def test_regrade_of_an_export_gives_every_submission_its_row(tmp_path, capsys):
    export = tmp_path / "assignment_1_export"
    metadata = make_export(export)
    assert len(metadata) >= 20
    specs = attention_specs(tmp_path / "specs", timeout=1.5)
    grades = tmp_path / "out" / "grades.csv"

    code = cli.main(
        [
            "regrade",
            str(export),
            "--jobs",
            "2",
            "--csv",
            str(grades),
            "--specs",
            str(specs),
        ]
    )

    assert code == 0
    rows = read_csv(grades)
    assert sorted(rows) == sorted(metadata)
    for name, row in rows.items():
        assert row["status"] == "graded", (name, row["message"])
        assert float(row["max_score"]) == 6
        assert float(row["score"]) == pytest.approx(float(row["3.1"]))
        assert float(row["score"]) == EXPECTED_SCORE[kind_of(name)], name
        people = metadata[name][":submitters"]
        assert row["names"] == "; ".join(p[":name"] for p in people)
        assert row["emails"] == "; ".join(p[":email"] for p in people)
        assert row["sids"] == "; ".join(p[":sid"] for p in people)
    assert "; Partner Two" in "".join(row["names"] for row in rows.values())

    summary = read_csv(grades.with_name("grades-tests.csv"))
    assert list(summary) == ["3.1.1", "3.1.2", "3.1.3"]
    working = 9 + 1  # correct and nested
    assert summary["3.1.1"]["passed"] == str(working + 4)
    assert summary["3.1.2"]["passed"] == str(working)
    assert summary["3.1.3"]["passed"] == str(working + 4)
    assert {row["graded"] for row in summary.values()} == {str(len(metadata))}
    out = capsys.readouterr().out
    assert "10 / 22" in out and "22 submissions: 22 graded" in out


def test_a_submission_that_outlasts_the_timeout_still_gets_its_row(tmp_path):
    export = tmp_path / "export"
    submission(export / "hangs", BROKEN["loop_at_import"])
    specs = attention_specs(tmp_path / "specs", timeout=120)
    grades = tmp_path / "grades.csv"

    code = cli.main(
        [
            "regrade",
            str(export),
            "--csv",
            str(grades),
            "--specs",
            str(specs),
            "--timeout",
            "2",
        ]
    )

    assert code == 1
    row = read_csv(grades)["hangs"]
    assert row["status"] == "timeout"
    assert (row["score"], row["3.1"], row["names"]) == ("0", "0", "")
    assert "did not finish within 2 s" in row["message"]


def test_a_grader_that_crashes_still_gives_a_row(tmp_path, monkeypatch):
    export = tmp_path / "export"
    submission(export / "a", {"attention.py": REFERENCE})
    monkeypatch.setattr(
        batch,
        "grade_command",
        lambda *args: [
            sys.executable,
            "-c",
            "print('grader down'); raise SystemExit(3)",
        ],
    )
    grades = tmp_path / "grades.csv"

    code = cli.main(["regrade", str(export), "--csv", str(grades)])

    assert code == 1
    row = read_csv(grades)["a"]
    assert row["status"] == "crashed"
    assert row["score"] == "0"
    assert "exited with 3" in row["message"] and "grader down" in row["message"]


def test_metadata_with_ruby_tags_and_groups_is_read(tmp_path):
    path = tmp_path / regrade.METADATA
    path.write_text(
        "submission_1:\n"
        "  :submitters:\n"
        "  - :name: Ada Lovelace\n"
        "    :sid: '1815'\n"
        "    :email: ada@example.edu\n"
        "  - :name: Charles Babbage\n"
        "    :email: cb@example.edu\n"
        "  :score: !ruby/object:BigDecimal 18:0.6e1\n"
        "  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "    score: 6.0\n"
        "submission_2:\n"
        "  :submitters: []\n"
    )
    assert regrade.read_metadata(path) == {
        "submission_1": [
            regrade.Submitter("Ada Lovelace", "ada@example.edu", "1815"),
            regrade.Submitter("Charles Babbage", "cb@example.edu", ""),
        ],
        "submission_2": [],
    }


def test_a_plain_folder_holds_folders_and_zips(tmp_path):
    for name in ("b", "a", ".hidden", "__MACOSX"):
        (tmp_path / name).mkdir()
    (tmp_path / "c.zip").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    jobs, people = regrade.find_submissions(tmp_path)
    assert [job.name for job in jobs] == ["a", "b", "c.zip"]
    assert people == {}


def test_an_export_zip_entry_that_climbs_out_is_refused(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../evil.py", "x = 1\n")
    with pytest.raises(regrade.GraderError, match="points outside the export"):
        regrade.unpack(archive, tmp_path / "out")
    assert not (tmp_path / "evil.py").exists()


def test_regrade_on_a_local_dask_cluster(tmp_path, capsys, dask_cluster):
    export = tmp_path / "assignment_2_export"
    submission(export / "submission_1", {"attention.py": REFERENCE})
    submission(export / "submission_2", {"attention.py": NAIVE})
    submission(export / "submission_3", BROKEN["syntax"])
    (export / regrade.METADATA).write_text(
        "submission_1:\n  :submitters:\n  - :name: One\n    :email: one@x.edu\n"
        "submission_2:\n  :submitters:\n  - :name: Two\n    :email: two@x.edu\n"
        "submission_3:\n  :submitters:\n  - :name: Three\n    :email: three@x.edu\n"
    )
    archive = tmp_path / "export.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", tmp_path, export.name)
    specs = attention_specs(tmp_path / "specs", timeout=5)
    grades = tmp_path / "grades.csv"

    code = cli.main(
        [
            "regrade",
            str(archive),
            "--csv",
            str(grades),
            "--specs",
            str(specs),
            "--scheduler",
            dask_cluster.scheduler_address,
        ]
    )

    assert code == 0
    rows = read_csv(grades)
    assert {name: row["score"] for name, row in rows.items()} == {
        "submission_1": "6",
        "submission_2": "4",
        "submission_3": "0",
    }
    assert [rows[f"submission_{n}"]["names"] for n in (1, 2, 3)] == [
        "One",
        "Two",
        "Three",
    ]
    assert (
        "SyntaxError" in rows["submission_3"]["message"]
        or rows["submission_3"]["status"] == "graded"
    )


def test_an_export_without_submissions_is_an_error(tmp_path, capsys):
    (tmp_path / "export").mkdir()
    assert cli.main(["regrade", str(tmp_path / "export")]) == 2
    assert "holds no submission folders or zips" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "expected a mapping of submission folders"),
        ("../escape:\n  :submitters: []\n", "'../escape' is not a submission folder"),
        ("submission_1: 3\n", "submission_1 must be a mapping, found 3"),
        ("submission_1:\n  :submitters: [x]\n", "submission_1 :submitters: must be"),
        ("submission_1: [\n", "cannot be read as YAML"),
    ],
)
def test_malformed_metadata_is_refused(tmp_path, text, message):
    path = tmp_path / regrade.METADATA
    path.write_text(text)
    with pytest.raises(regrade.GraderError, match=re.escape(message)):
        regrade.read_metadata(path)
