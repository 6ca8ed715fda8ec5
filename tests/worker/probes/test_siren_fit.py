"""Running a student's ``train`` at the grader's side length (5.4's fit).

Each student module here is a small training script in the style of the
course handout, run in this process through ``fit_at`` at an 8 × 8 target
for a few epochs, with the reference ``siren_utils``.
"""

from __future__ import annotations

import importlib
import sys
import textwrap

import matplotlib
import pytest

from autograder import runner
from autograder.worker.probes import siren as siren_probe

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

SIDE = 8

HEADER = """
    import matplotlib.pyplot as plt
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    {imports}


    def model(activation):
        return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
"""
DATASET = """
    class MyDataset(Dataset):
        def __init__(self, sidelength{default}):
            super().__init__()
            self.coords = get_coords({asked})
            self.pixels = get_cameraman_tensor({asked})

        def __len__(self):
            return len(self.coords)

        def __getitem__(self, idx):
            return self.coords[idx], self.pixels[idx]
"""
TRAIN = """
    def train(total_epochs, batch_size, activation):
        dataset = {build}
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=True)
        net = model(activation)
        optim = torch.optim.Adam(net.parameters(), lr=1e-3)
        for epoch in range(total_epochs):
            for coords, pixels in loader:
                loss = ((net(coords) - pixels) ** 2).mean()
                optim.zero_grad()
                loss.backward()
                optim.step()
            print(f"epoch {{epoch}}", end="\\r")
        {finish}
"""
PLOT = """fig, axes = plt.subplots(1, 3)
    images = {results}(net)
    assert [image.shape for image in images] == [({side}, {side})] * 3
    for ax, image in zip(axes, images):
        ax.imshow(image)
    plt.show()"""


def student_source(
    imports="from siren_utils import get_cameraman_tensor, get_coords, model_results",
    default="",
    asked="sidelength",
    build="MyDataset(256)",
    finish=None,
    results="model_results",
) -> str:
    if finish is None:
        finish = PLOT.format(results=results, side=SIDE)
    return (
        textwrap.dedent(HEADER).format(imports=imports)
        + textwrap.dedent(DATASET).format(default=default, asked=asked)
        + textwrap.dedent(TRAIN).format(build=build, finish=finish)
    )


@pytest.fixture
def fit(tmp_path, monkeypatch, request):
    """Write a student module, run it through fit_at; return (run, module)."""
    monkeypatch.syspath_prepend(str(runner.SOLUTIONS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    utils = importlib.import_module("siren_utils")
    name = "student_" + request.node.name.replace("[", "_").replace("]", "")

    def run(source: str):
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        module = importlib.import_module(name)
        originals = {key: getattr(utils, key) for key in vars(utils)}
        outcome = siren_probe.fit_at(module, utils, SIDE, 3, "tanh", seed=0)
        assert {key: getattr(utils, key) for key in vars(utils)} == originals
        sys.modules.pop(name, None)
        return outcome, module

    return run


def test_the_handout_style_run_is_found_through_model_results(fit):
    outcome, module = fit(student_source())
    assert outcome.error is None
    assert outcome.source == "model_results"
    assert len(outcome.datasets) == 1
    assert len(outcome.datasets[0]) == SIDE * SIDE
    assert outcome.printed == ["epoch 0", "epoch 1", "epoch 2"]
    assert plt.get_fignums() == []
    # The module is left as it was.
    assert module.MyDataset.__module__ == module.__name__
    assert module.get_coords is sys.modules["siren_utils"].get_coords


@pytest.mark.parametrize(
    ("default", "build"),
    [("", "MyDataset(sidelength=256)"), ("=256", "MyDataset()")],
)
def test_the_side_length_is_the_graders_however_the_dataset_is_built(
    fit, default, build
):
    outcome, _ = fit(student_source(default=default, build=build))
    assert outcome.error is None
    assert len(outcome.datasets[0]) == SIDE * SIDE


def test_a_dataset_that_ignores_its_argument_is_still_small(fit):
    outcome, _ = fit(student_source(asked="256"))
    assert outcome.error is None
    assert outcome.datasets[0].coords.shape == (SIDE * SIDE, 2)


def test_helpers_reached_through_the_module_are_replaced_too(fit):
    source = student_source(
        imports="import siren_utils as su\nget_coords = su.get_coords\n"
        "get_cameraman_tensor = su.get_cameraman_tensor",
        results="su.model_results",
    )
    outcome, _ = fit(source)
    assert outcome.error is None
    assert outcome.source == "model_results"


def test_without_model_results_the_saved_state_dict_is_loaded(fit):
    finish = 'torch.save(net.state_dict(), "siren_model.p")'
    source = student_source(finish=finish) + textwrap.dedent(
        """
        def Siren(in_features, out_features, hidden, layers, activation):
            return model(activation)
        """
    )
    outcome, _ = fit(source)
    assert outcome.error is None
    assert outcome.source == siren_probe.MODEL_FILE
    assert outcome.model is not None


def test_an_error_before_any_model_is_kept_without_a_model(fit):
    outcome, _ = fit(student_source(finish='raise ValueError("no plot")'))
    assert outcome.model is None
    assert isinstance(outcome.error, ValueError)
