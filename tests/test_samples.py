"""The regression check over every sample of submissions/: each sample is
graded and compared with its expected.yaml, so a change that moves a grade
fails here, naming the sample.

The selected samples are graded in the background, a grade per core, while
the tests take their outcomes in order."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest

from autograder import batch, regress, results, runner

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = regress.samples(ROOT / "submissions")


def test_the_reference_and_the_handout_are_samples():
    assert {"reference", "starter"} <= {folder.name for folder in SAMPLES}


def test_every_sample_folder_has_an_expected_yaml():
    folders = [p for p in (ROOT / "submissions").iterdir() if p.is_dir()]
    assert sorted(folders) == SAMPLES


@pytest.fixture(scope="module")
def graded(request):
    """Futures of the outcomes of the samples this session runs."""
    selected = [
        item.callspec.params["folder"]
        for item in request.session.items
        if item.originalname == "test_sample_gets_its_expected_grade"
    ]
    settings = batch.Settings(specs=str(runner.SPECS), timeout=1800)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {
            folder.name: pool.submit(
                batch.grade, batch.Job(folder.name, path=str(folder)), settings
            )
            for folder in selected
        }
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("folder", SAMPLES, ids=[folder.name for folder in SAMPLES])
def test_sample_gets_its_expected_grade(folder, graded):
    expected = regress.load_expected(folder / regress.EXPECTED)

    outcome = graded[folder.name].result()

    if outcome.document is not None:
        jsonschema.validate(outcome.document, results.load_schema())
    rows = regress.compare(folder.name, expected, outcome)
    mismatches = [row for row in rows if not row.ok]
    assert not mismatches, (
        f"{folder.name}: the grade no longer matches expected.yaml\n"
        + regress.table(mismatches)
    )
