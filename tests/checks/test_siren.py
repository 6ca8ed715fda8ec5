"""Part 5 graded end to end: every feedback message of its tests, exactly
(but for the seconds a training run took), and the reference PSNR stored in
the spec for 5.4.

The reference is graded on the whole part once. The other submissions are
the reference solution with a few slips, each slip in a different test;
their fits run with the relu budget only (about 2 s).

The PSNR and losses of a training run asserted here are those of torch's
AVX2 kernels, which ``autograder/numerics.py`` selects on every x86-64
processor that has them; on other processors they differ.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import yaml
from part_grading import feedback, grade_files, solution, specs_with_only
from PIL import Image

from autograder import runner, spec
from autograder.checks import siren

UNIT_TESTS = ["layer_structure", "layer_forward", "layer_activation", "init_weights"]
UNIT_TESTS += ["dataset"]
FITS = [t for t in spec.load(runner.SPECS).parts if t.part == "siren"][0].tests
FITS = {t.number: t for t in FITS if t.check == "siren.fit"}

FORWARD = "        return self.torch_activation(self.omega * self.linear(input))\n"
CHECKED = "        elif activation in ACTIVATIONS:\n"
OMEGA = '        self.omega = 30.0 if activation == "sin" else 1.0\n'
CALL_INIT = "        self.is_first = is_first\n        self.init_weights()\n"
BOUND = "                bound = math.sqrt(6.0 / fan_in) / self.omega\n"
ITEM = "        return self.coords[idx], self.pixels[idx]\n"
LENGTH = "        return len(self.coords)\n"
LINEAR = "        self.linear = nn.Linear(in_features, out_features, bias=bias)\n"
SAVE = '    torch.save(siren_model.state_dict(), "siren_model.p")\n'
PLOT = "    image, grad, lap = model_results(siren_model)\n"
NO_PLOT = "    image, grad, lap = 3 * [torch.zeros(1, 1).numpy()]\n"


def edited(*pairs: tuple[str, str]) -> str:
    """The reference siren.py with each ``old`` replaced by ``new``."""
    text = solution("siren.py")
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


SLIPS = {
    # forward without omega, a KeyError for unknown names, init_weights
    # never called, (pixel, coordinate) items
    "slips_a": edited(
        (FORWARD, "        return self.torch_activation(self.linear(input))\n"),
        (CHECKED, "        elif activation is not None:\n"),
        (CALL_INIT, "        self.is_first = is_first\n"),
        (ITEM, "        return self.pixels[idx], self.coords[idx]\n"),
    ),
    # omega 1 for sin too, "gelu" taken for a known name, integer coordinates
    "slips_b": edited(
        (OMEGA, "        self.omega = 1.0\n"),
        (CHECKED, '        elif activation in ACTIVATIONS or activation == "gelu":\n'),
        (
            ITEM,
            "        row, column = divmod(idx, self.sidelength)\n"
            "        coord = torch.tensor([row, column], dtype=torch.float32)\n"
            "        return coord, self.pixels[idx]\n",
        ),
    ),
    # omega after the activation, a bias whatever the flag, the bound
    # √6/(in·ω), a length of sidelength
    "slips_c": edited(
        (
            FORWARD,
            "        return self.omega * self.torch_activation(self.linear(input))\n",
        ),
        (LINEAR, "        self.linear = nn.Linear(in_features, out_features)\n"),
        (BOUND, "                bound = math.sqrt(6.0) / (fan_in * self.omega)\n"),
        (LENGTH, "        return self.sidelength\n"),
    ),
}
FIT_ONLY = {
    "saved_only": edited((PLOT, NO_PLOT)),
    "no_model": edited((PLOT, NO_PLOT), (SAVE, "")),
    "plot_error": edited(
        ("    plt.show()\n", '    plt.savefig("/nonexistent/a.png")\n')
    ),
    "saved_then_error": edited((PLOT, '    raise RuntimeError("no display")\n')),
    "handout": (runner.ROOT / "submissions/siren-course-handout/siren.py").read_text(
        encoding="utf-8"
    ),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The reference graded on the whole part: (tests by number, folder)."""
    folder = tmp_path_factory.mktemp("results")
    target = folder / "results.json"
    runner.grade(runner.ROOT / "submissions/reference", target, only=["siren"])
    document = json.loads(target.read_text(encoding="utf-8"))
    return {test["number"]: test for test in document["tests"]}, folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    units = specs_with_only(tmp_path_factory, "siren", [*UNIT_TESTS, "fit_relu"])
    fits = specs_with_only(tmp_path_factory, "siren", ["fit_relu"])
    results = {
        name: grade_files(tmp_path_factory, {"siren.py": text}, "siren", units)
        for name, text in SLIPS.items()
    }
    for name, text in FIT_ONLY.items():
        files = {"siren.py": text}
        if name == "handout":
            copy = runner.ROOT / "submissions/siren-course-handout/siren_utils.py"
            files["siren_utils.py"] = copy.read_text(encoding="utf-8")
        results[name] = grade_files(tmp_path_factory, files, "siren", fits)
    return results


def steady(text: str) -> str:
    """Feedback without the seconds a training run took."""
    return re.sub(r"\(\d+\.\d s of training\)", "(… s of training)", text)


PASSED = {
    "5.1.1": "6 of 6 cases correct.",
    "5.1.2": "6 of 6 cases correct.",
    "5.1.3": "3 of 3 cases correct.",
    "5.2": "6 of 6 cases correct.",
    "5.3": "2 of 2 cases correct.",
}


def fit_feedback(number: str, value: float, source: str, printed: list[str]) -> str:
    """The feedback of a fit that reached ``value`` dB."""
    test = FITS[number]
    p = test.params
    side = p["sidelength"]
    lines = [
        f"PSNR {value:.1f} dB; it must reach {p['threshold']:g} dB. The reference "
        f"solution reaches {p['reference_psnr']:.1f} dB with the same budget.",
        f"The grader ran train({p['epochs']}, {side * side}, {p['activation']!r}) "
        f"on the {side}×{side} target ({p['epochs']} epochs of one full batch, "
        f"seed {test.seed}) and measured {source} on the grid of get_coords "
        "(… s of training).",
    ]
    if printed:
        lines.append("The last lines train printed:\n" + "\n".join(printed))
    return "\n".join(lines)


def reached(test: dict) -> float:
    return float(re.match(r"PSNR (\d+\.\d) dB", test["output"]).group(1))


@pytest.mark.parametrize("number", sorted(PASSED))
def test_the_reference_gets_full_marks(reference, number):
    test = reference[0][number]
    assert test["score"] == test["max_score"] > 0
    assert feedback(test) == PASSED[number]


@pytest.mark.parametrize("number", sorted(FITS))
def test_the_reference_fit_shows_its_psnr_the_threshold_and_the_stored_figure(
    reference, number
):
    test = reference[0][number]
    assert test["score"] == test["max_score"] > 0
    value = reached(test)
    epochs = FITS[number].params["epochs"]
    printed = [f"Epoch: {epoch}, loss: " for epoch in range(epochs - 3, epochs)]
    expected = fit_feedback(number, value, "the model passed to model_results", [])
    shown = steady(feedback(test))
    assert shown.startswith(expected + "\nThe last lines train printed:\n")
    last = shown.splitlines()[-3:]
    assert all(line.startswith(p) for line, p in zip(last, printed, strict=True))
    # The same seed gives the same fit as the stored measurement.
    assert abs(value - FITS[number].params["reference_psnr"]) <= 0.5


@pytest.mark.parametrize("number", sorted(FITS))
def test_the_fit_is_saved_beside_the_target_next_to_results(reference, number):
    side = FITS[number].params["sidelength"]
    name = f"siren-{number}-{FITS[number].params['activation']}.png"
    with Image.open(reference[1] / name) as picture:
        gap = max(1, side // 16)
        assert picture.size == (
            (2 * side + gap) * siren.PICTURE_SCALE,
            side * siren.PICTURE_SCALE,
        )
        assert picture.mode == "L"


OMEGA_FORWARD = [
    (
        "SingleLayer(2, 32, 'sin', bias=True, is_first=True).forward: output[9, 24] "
        "= 0.9869, expected -0.988931 = act(omega · linear(x)) (difference 1.97583); "
        "it computes act(linear(x)): omega is not applied"
    ),
    (
        "SingleLayer(32, 32, 'sin', bias=True, is_first=False).forward: output[0, 4] "
        "= -0.967298, expected 0.987126 = act(omega · linear(x)) (difference "
        "1.95442); it computes act(linear(x)): omega is not applied"
    ),
    (
        "SingleLayer(6, 4, 'sin', bias=False, is_first=False).forward: output[15, 0] "
        "= -0.999466, expected 0.830497 = act(omega · linear(x)) (difference "
        "1.82996); it computes act(linear(x)): omega is not applied"
    ),
]
NOT_CALLED = (
    "the weights follow 1/√in, PyTorch's default: the weights were not redrawn; "
    "after one more call of init_weights() they are right: __init__ must call "
    "self.init_weights() after creating the linear layer"
)
VALUE_ERROR = "expected a ValueError for an unknown activation name"
RELU_RUN = (
    "Running train(600, 576, 'relu') on the 24×24 target (600 epochs of one full "
    "batch, seed 5402): "
)

FAILED = [
    ("slips_a", "5.1.1", 1, PASSED["5.1.1"]),
    ("slips_a", "5.1.2", 1, "\n".join(["3 of 6 cases correct.", *OMEGA_FORWARD])),
    (
        "slips_a",
        "5.1.3",
        0,
        "0 of 3 cases correct.\n"
        + "\n".join(
            f"SingleLayer(3, 4, {name!r}, bias=True, is_first=False): raised "
            f"KeyError: {name!r}; {VALUE_ERROR}"
            for name in ("gelu", "sigmoid", "sine")
        ),
    ),
    (
        "slips_a",
        "5.2",
        0,
        "0 of 6 cases correct.\n"
        "init_weights: max |w| = 0.0624981; the bound is 1/in = 1/256 = 0.00390625: "
        f"{NOT_CALLED} (in SingleLayer(256, 256, 'sin', bias=True, is_first=True) "
        "weights, SingleLayer(256, 256, 'relu', bias=True, is_first=True) weights)\n"
        "SingleLayer(256, 256, 'sin', bias=True, is_first=False) weights: max |w| = "
        "0.0624981; the bound is √(6/in)/ω = √(6/256)/30 = 0.0051031: "
        f"{NOT_CALLED}\n"
        "init_weights: max |w| = 0.0624981; the bound is √(6/in)/ω = √(6/256)/1 = "
        f"0.153093: {NOT_CALLED} (in SingleLayer(256, 256, 'relu', bias=True, "
        "is_first=False) weights, SingleLayer(256, 256, 'tanh', bias=True, "
        "is_first=False) weights, SingleLayer(256, 256, None, bias=False, "
        "is_first=False) weights)",
    ),
    (
        "slips_a",
        "5.3",
        0,
        "0 of 2 cases correct.\n"
        "MyDataset: item 0 is (pixel, coordinate); expected (coordinate, pixel), "
        "the order train unpacks (in all 2 cases)",
    ),
    (
        "slips_a",
        "5.4.2",
        0,
        RELU_RUN + "train raised RuntimeError: mat1 and mat2 shapes cannot be "
        "multiplied (576x1 and 2x32) (at siren.py, line 85, in forward)",
    ),
    (
        "slips_b",
        "5.1.1",
        4 / 6,
        "4 of 6 cases correct.\n"
        'SingleLayer: omega = 1, expected 30 (30 for "sin", 1 for any other '
        "activation) (in SingleLayer(2, 32, 'sin', bias=True, is_first=True), "
        "SingleLayer(32, 32, 'sin', bias=True, is_first=False))",
    ),
    ("slips_b", "5.1.2", 1, "\n".join(["3 of 6 cases correct.", *OMEGA_FORWARD])),
    (
        "slips_b",
        "5.1.3",
        2 / 3,
        "2 of 3 cases correct.\n"
        f"SingleLayer(3, 4, 'gelu', bias=True, is_first=False): raised KeyError: "
        f"'gelu'; {VALUE_ERROR}",
    ),
    (
        "slips_b",
        "5.2",
        2 * 5 / 6,
        "5 of 6 cases correct.\n"
        "SingleLayer(256, 256, 'sin', bias=True, is_first=False) weights: max |w| = "
        "0.153092; the bound is √(6/in)/ω = √(6/256)/30 = 0.0051031: the weights "
        "follow √(6/in), without dividing by ω",
    ),
    (
        "slips_b",
        "5.3",
        0,
        "0 of 2 cases correct.\n"
        "MyDataset: the coordinate of item 0 is (0, 0), expected coords[0] = "
        "(-1, -1) (in all 2 cases)",
    ),
    (
        "slips_b",
        "5.4.2",
        0,
        "PSNR 7.8 dB; it must reach 14 dB. The reference solution reaches 29.2 dB "
        "with the same budget.\n"
        "The grader ran train(600, 576, 'relu') on the 24×24 target (600 epochs of "
        "one full batch, seed 5402) and measured the model passed to model_results "
        "on the grid of get_coords (… s of training).\n"
        "The last lines train printed:\n"
        "Epoch: 597, loss: 0.02218\nEpoch: 598, loss: 0.02315\n"
        "Epoch: 599, loss: 0.02457\n"
        "On the inputs your MyDataset gives, which run from 0 to 23, the model "
        "reaches 22.0 dB; the grader evaluates it on the grid of get_coords, in "
        "[−1, 1]. The coordinates must be self.coords.",
    ),
    (
        "slips_c",
        "5.1.1",
        0.5,
        "3 of 6 cases correct.\n"
        + "\n".join(
            f"SingleLayer({n}, {m}, {act!r}, bias=False, is_first={first}): its "
            f"linear layer is nn.Linear({n}, {m}, bias=True); expected "
            f"nn.Linear({n}, {m}, bias=False)"
            for n, m, act, first in [
                (32, 1, None, False),
                (7, 3, "tanh", False),
                (4, 6, "relu", True),
            ]
        ),
    ),
    (
        "slips_c",
        "5.1.2",
        1,
        "3 of 6 cases correct.\n"
        "SingleLayer(2, 32, 'sin', bias=True, is_first=True).forward: output[5, 25] "
        "= 29.9768, expected -0.92466 = act(omega · linear(x)) (difference "
        "30.9015); it computes omega · act(linear(x)): omega must multiply before "
        "the activation\n"
        "SingleLayer(32, 32, 'sin', bias=True, is_first=False).forward: output[7, "
        "26] = 29.9312, expected -0.895766 = act(omega · linear(x)) (difference "
        "30.827); it computes omega · act(linear(x)): omega must multiply before "
        "the activation\n"
        "SingleLayer(6, 4, 'sin', bias=False, is_first=False).forward: output[15, 0] "
        "= -29.984, expected 0.830497 = act(omega · linear(x)) (difference "
        "30.8145); it computes omega · act(linear(x)): omega must multiply before "
        "the activation",
    ),
    ("slips_c", "5.1.3", 1, PASSED["5.1.3"]),
    (
        "slips_c",
        "5.2",
        2 / 3,
        "2 of 6 cases correct.\n"
        "SingleLayer(256, 256, 'sin', bias=True, is_first=False) weights: max |w| = "
        "0.000318942; the bound is √(6/in)/ω = √(6/256)/30 = 0.0051031: the weights "
        "follow √6/(in·ω)\n"
        "init_weights: max |w| = 0.00956825; the bound is √(6/in)/ω = √(6/256)/1 = "
        "0.153093: the weights follow √6/(in·ω) (in SingleLayer(256, 256, 'relu', "
        "bias=True, is_first=False) weights, SingleLayer(256, 256, 'tanh', "
        "bias=True, is_first=False) weights, SingleLayer(256, 256, None, "
        "bias=False, is_first=False) weights)",
    ),
    (
        "slips_c",
        "5.3",
        0,
        "0 of 2 cases correct.\n"
        "MyDataset(7): len = 7, expected 7² = 49\n"
        "MyDataset(20): len = 20, expected 20² = 400",
    ),
    (
        "no_model",
        "5.4.2",
        0,
        RELU_RUN + "train neither passed its model to model_results nor saved "
        "siren_model.p; the grader finds the trained model through one of them",
    ),
]


@pytest.mark.parametrize(
    ("submission", "number", "score", "message"),
    FAILED,
    ids=[f"{row[0]}-{row[1]}" for row in FAILED],
)
def test_feedback_names_the_mistake(graded, submission, number, score, message):
    test = graded[submission][number]
    assert test["score"] == pytest.approx(score)
    assert steady(feedback(test)) == message


RELU_PRINTED = [
    "Epoch: 597, loss: 0.00438",
    "Epoch: 598, loss: 0.00446",
    "Epoch: 599, loss: 0.00462",
]


def test_a_model_only_saved_to_siren_model_p_is_found(graded):
    test = graded["saved_only"]["5.4.2"]
    assert test["score"] == test["max_score"]
    value = reached(test)
    source = "the model saved in siren_model.p"
    assert steady(feedback(test)) == fit_feedback("5.4.2", value, source, RELU_PRINTED)


def test_a_plot_that_fails_after_training_keeps_the_trained_model(graded):
    test = graded["plot_error"]["5.4.2"]
    assert test["score"] == test["max_score"]
    source = "the model passed to model_results"
    assert steady(feedback(test)) == (
        fit_feedback("5.4.2", reached(test), source, RELU_PRINTED)
        + "\ntrain raised FileNotFoundError: [Errno 2] No such file or directory: "
        "'/nonexistent/a.png' after training; the model passed to model_results "
        "was graded."
    )


def test_a_model_saved_before_train_fails_is_graded(graded):
    test = graded["saved_then_error"]["5.4.2"]
    assert test["score"] == test["max_score"]
    source = "the model saved in siren_model.p"
    assert steady(feedback(test)) == (
        fit_feedback("5.4.2", reached(test), source, RELU_PRINTED)
        + "\ntrain raised RuntimeError: no display after training; the model "
        "saved in siren_model.p was graded."
    )


def test_a_course_handout_file_with_its_plots_and_own_helpers_is_graded(graded):
    test = graded["handout"]["5.4.2"]
    assert test["score"] == test["max_score"]
    assert "the model passed to model_results" in test["output"]
    assert "Epoch 590, Total loss" in test["output"]


@pytest.mark.parametrize("submission", sorted(SLIPS) + sorted(FIT_ONLY))
def test_no_mistake_is_taken_for_a_grader_fault(graded, submission):
    for test in graded[submission].values():
        assert "grader-error" not in test["tags"], test["output"]


@pytest.mark.parametrize("number", sorted(FITS))
def test_the_stored_reference_psnr_is_what_the_reference_reaches(number):
    """Re-measures the reference's fit in this process (about 10 s for sin)."""
    p = FITS[number].params
    value, _ = siren.reference_fit(
        p["sidelength"], p["epochs"], p["activation"], FITS[number].seed
    )
    assert abs(value - p["reference_psnr"]) <= 0.5, (
        f"specs/siren.yaml stores {p['reference_psnr']} dB for {number}; the "
        f"reference now reaches {value:.2f} dB (benchmarks/siren_budget.py)"
    )


def test_the_init_test_keeps_its_stated_false_fail_probability():
    test = [t for t in spec.load(runner.SPECS).parts if t.part == "siren"][0].tests
    (init,) = [t for t in test if t.id == "init_weights"]
    p = init.params
    per_case = max(
        siren.false_fail_bound(n * m, p["delta"], p["square"], p["mean"])
        for n, m, *_ in p["cases"]
    )
    assert per_case * len(p["cases"]) < p["max_false_fail"] == 1e-6
    # Too few weights to test the reach of the bound: refused as a fault.
    assert siren.false_fail_bound(16, p["delta"], p["square"], p["mean"]) > 1


def test_an_init_test_too_weak_for_its_bound_is_a_grader_fault(tmp_path_factory):
    folder = specs_with_only(tmp_path_factory, "siren", ["init_weights"])
    path = folder / "siren.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["tests"][0]["params"]["cases"] = [[4, 4, "relu", True, False]]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    tests = grade_files(
        tmp_path_factory, {"siren.py": solution("siren.py")}, "siren", folder
    )
    assert "grader-error" in tests["5.2"]["tags"]


@pytest.mark.parametrize(
    ("error", "expected"), [(0.2, 20.0), (0.02, 40.0), (2.0, 0.0), (0.0, math.inf)]
)
def test_psnr_is_on_the_minus_one_one_scale(error, expected):
    target = np.linspace(-1, 1, 50)
    assert siren.psnr(target + error, target) == pytest.approx(expected)
