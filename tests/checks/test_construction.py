"""Part 1 graded end to end: every feedback message of its tests, exactly.

Each submission below is graded once (part ``construction`` only); the
tables then read its results.json.
"""

from __future__ import annotations

import re

import pytest
from part_grading import feedback, grade_files, solution

ALTERNATIVES = """
    import math

    import numpy as np
    import torch


    def identity_net():
        # Positive rescaling, another order and a dead unit.
        return torch.tensor([-3.0, 0.0, 2.0]), np.array([-1.0 / 3.0, 5.0, 0.5])


    def linear_net(m, c):
        # relu(z) - relu(-z) with z = m·x + c scaled by 4, and a dead unit.
        return [0.0, -4.0 * m, 4.0 * m], [-1.0, -4.0 * c, 4.0 * c], [7.0, -0.25, 0.25]


    def constant_net(c):
        # sigmoid(z) + sigmoid(-z) = 1 for every z.
        return [3.0, -3.0], [c, c]


    def hat_net():
        # The units in another order, each rescaled.
        return np.array([2.0, 0.5, 4.0]), np.array([-4.0, 1.0, 0.0]), [1.5, 6.0, -1.5]


    def square_net(eps, lo, hi):
        # Chords on a grid finer than needed, the first as relu(z) - relu(-z).
        n = max(1, 2 * math.ceil((hi - lo) / (2.0 * math.sqrt(eps))))
        knots = np.linspace(lo, hi, n + 1)
        slopes = knots[:-1] + knots[1:]
        z0 = lo * lo - slopes[0] * lo
        w0 = [slopes[0], -slopes[0]] + [1.0] * (n - 1)
        b = [z0, -z0] + [-t for t in knots[1:-1]]
        w1 = [1.0, -1.0] + list(np.diff(slopes))
        return w0, b, w1
"""

WRONG_VALUES = """
    def identity_net():
        return [1.0], [1.0]


    def linear_net(m, c):
        return [m, -m, 0.0], [0.0, 0.0, c], [1.0, -1.0, 1.0]


    def constant_net(c):
        return [0.0], [float(c)]


    def hat_net():
        return [1.0, 1.0, 1.0], [2.0, 0.0, -2.0], [1.5, -3.0, 1.5]


    def square_net(eps, lo, hi):
        # Ten chords, whatever eps is.
        knots = [lo + (hi - lo) * k / 10 for k in range(11)]
        slopes = [knots[k] + knots[k + 1] for k in range(10)]
        z0 = lo * lo - slopes[0] * lo
        w0, b, w1 = [slopes[0], -slopes[0]], [z0, -z0], [1.0, -1.0]
        for k in range(1, 10):
            w0.append(1.0)
            b.append(-knots[k])
            w1.append(slopes[k] - slopes[k - 1])
        return w0, b, w1
"""

WRONG_FORMS = """
    def identity_net():
        return 3.0


    def linear_net(m, c):
        return [m, -m], [c, -c], [1.0, -1.0, 0.0]


    def constant_net(c):
        if c < 0:
            raise ValueError("negative c")
        return [0.0], [float("nan")]


    def hat_net():
        return [1.0, 1.0, 1.0, 0.0], [2.0, 0.0, -2.0, 0.0], [3.0, -6.0, 3.0, 0.0]


    def square_net(eps, lo, hi):
        return "w0", [1.0], [1.0]
"""

FAULTS = """
    import numpy as np
    import torch


    def linear_net(m, c):
        raise ValueError("not done")


    def constant_net(c):
        return torch.zeros(1), torch.tensor([True])


    def hat_net():
        return [1.0, 1.0, 1.0], [float("inf"), 0.0, 0.0], [1.0, 1.0, 1.0]


    def square_net(eps, lo, hi):
        if eps < 0.05:
            return np.zeros(100001), np.zeros(100001), np.zeros(100001)
        return [0.0], [0.0], [0.0]
"""

SUBMISSIONS = {
    "reference": None,
    "syntax_error": "def identity_net(:\n    pass\n",
    "alternatives": ALTERNATIVES,
    "wrong_values": WRONG_VALUES,
    "wrong_forms": WRONG_FORMS,
    "faults": FAULTS,
}
WIDTH = (
    "returned a network with 100001 hidden units; networks of at most 100000 "
    "units are graded, so that evaluating them stays within the grader's memory"
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    results = {
        name: grade_files(
            tmp_path_factory,
            {"construction.py": text or solution("construction.py")},
            "construction",
        )
        for name, text in SUBMISSIONS.items()
    }
    results["missing"] = grade_files(
        tmp_path_factory, {"notes.txt": "hi"}, "construction"
    )
    return results


PASSED = {
    "1.1": "identity_net(): correct at all 220 test points.",
    "1.2.1": "8 of 8 cases correct.",
    "1.2.2": "8 of 8 cases correct.",
    "1.3.1": "6 of 6 cases correct.",
    "1.3.2": "6 of 6 cases correct.",
    "1.4": "hat_net(): correct at all 220 test points.",
    "1.7.1": "4 of 4 cases correct.",
    "1.7.2": "6 of 6 cases correct.",
}


@pytest.mark.parametrize("submission", ["reference", "alternatives"])
@pytest.mark.parametrize("number", sorted(PASSED))
def test_any_correct_construction_gets_full_marks(graded, submission, number):
    test = graded[submission][number]
    assert test["score"] == test["max_score"] > 0
    assert feedback(test) == PASSED[number]


MISSING = "construction.py was not found in your submission (it holds: notes.txt)"
SYNTAX = (
    "construction.py could not be imported: SyntaxError: invalid syntax "
    "(at construction.py, line 1)"
)

FAILED = [
    ("missing", "1.1", 0, MISSING),
    ("missing", "1.2.1", 0, MISSING),
    ("syntax_error", "1.4", 0, SYNTAX),
    ("syntax_error", "1.7.2", 0, SYNTAX),
    (
        "wrong_values",
        "1.1",
        0,
        "identity_net(): f(-0.275328) = 0, expected -0.275328 "
        "(wrong at 109 of 220 test points)",
    ),
    (
        "wrong_values",
        "1.2.1",
        0.625,
        "5 of 8 cases correct.\n"
        "linear_net(2, -3): f(0) = 0, expected -3 (wrong at 220 of 220 test points)\n"
        "linear_net(0, -1): f(0) = 0, expected -1 (wrong at 220 of 220 test points)\n"
        "linear_net(-3, -7): f(-1) = 3, expected -4 (wrong at 220 of 220 test points)",
    ),
    (
        "wrong_values",
        "1.2.2",
        0.375,
        "3 of 8 cases correct.\n"
        "linear_net, hidden case 2 of 8: wrong at 220 of 220 test points; "
        "the largest difference is 1000\n"
        "linear_net, hidden case 3 of 8: wrong at 220 of 220 test points; "
        "the largest difference is 5.11111\n"
        "linear_net, hidden case 5 of 8: wrong at 220 of 220 test points; "
        "the largest difference is 4.31311\n"
        "linear_net, hidden case 6 of 8: wrong at 220 of 220 test points; "
        "the largest difference is 0.238189\n"
        "linear_net, hidden case 8 of 8: wrong at 220 of 220 test points; "
        "the largest difference is 0.681614",
    ),
    (
        "wrong_values",
        "1.3.1",
        1 / 6,
        "1 of 6 cases correct.\n"
        "constant_net(1): f(0) = 0.5, expected 1 (wrong at 220 of 220 test points)\n"
        "constant_net(-1): f(0) = -0.5, expected -1 (wrong at 220 of 220 test points)\n"
        "constant_net(3.5): f(0) = 1.75, expected 3.5 "
        "(wrong at 220 of 220 test points)\n"
        "constant_net(-42): f(0) = -21, expected -42 "
        "(wrong at 220 of 220 test points)\n"
        "constant_net(0.001): f(0) = 0.0005, expected 0.001 "
        "(wrong at 220 of 220 test points)",
    ),
    (
        "wrong_values",
        "1.4",
        0,
        "hat_net(): f(0) = 3, expected 6 (wrong at 66 of 220 test points)",
    ),
    (
        "wrong_values",
        "1.7.1",
        0.5,
        "2 of 4 cases correct.\n"
        "square_net(0.01, -2, 2): sup |f(x) - x²| over [-2, 2] is 0.04 at x = -0.6; "
        "expected below eps = 0.01\n"
        "square_net(0.001, -5, 2): sup |f(x) - x²| over [-5, 2] is 0.1225 "
        "at x = 0.95; expected below eps = 0.001",
    ),
    (
        "wrong_values",
        "1.7.2",
        1 / 6,
        "1 of 6 cases correct.\n"
        "square_net, hidden case 1 of 6: sup |f(x) - x²| over [lo, hi] is 100 × eps\n"
        "square_net, hidden case 2 of 6: sup |f(x) - x²| over [lo, hi] is 1369 × eps\n"
        "square_net, hidden case 3 of 6: sup |f(x) - x²| over [lo, hi] is "
        "208.333 × eps\n"
        "square_net, hidden case 4 of 6: sup |f(x) - x²| over [lo, hi] is 4.5 × eps\n"
        "square_net, hidden case 6 of 6: sup |f(x) - x²| over [lo, hi] is "
        "505.013 × eps",
    ),
    (
        "wrong_forms",
        "1.1",
        0,
        "identity_net(): expected (w0, w1), two vectors of the same length; "
        "found the number 3.0",
    ),
    (
        "wrong_forms",
        "1.2.1",
        0,
        "0 of 8 cases correct.\n"
        "linear_net: expected (w0, b, w1), three vectors of the same length; "
        "found lengths 2, 2, 3 (in all 8 cases)",
    ),
    (
        "wrong_forms",
        "1.3.1",
        0,
        "0 of 6 cases correct.\n"
        "constant_net: w1: found NaN at index 0 (1 non-finite values); expected "
        "finite numbers (in constant_net(1), constant_net(0), constant_net(3.5), "
        "constant_net(0.001))\n"
        "constant_net raised ValueError: negative c (at construction.py, line 12, in "
        "constant_net) (in constant_net(-1), constant_net(-42))",
    ),
    (
        "wrong_forms",
        "1.3.2",
        0,
        "0 of 6 cases correct.\n"
        "constant_net: w1: found NaN at index 0 (1 non-finite values); expected "
        "finite numbers (in 4 of 6 cases)\n"
        "constant_net raised ValueError: negative c (at construction.py, line 12, in "
        "constant_net) (in 2 of 6 cases)",
    ),
    (
        "wrong_forms",
        "1.4",
        0,
        "hat_net(): w0: expected a vector of 3 numbers, found 4",
    ),
    (
        "wrong_forms",
        "1.7.1",
        0,
        "0 of 4 cases correct.\n"
        "square_net: w0: expected a vector of numbers, found the string 'w0' "
        "(in all 4 cases)",
    ),
    (
        "faults",
        "1.1",
        0,
        "construction.py does not define identity_net",
    ),
    (
        "faults",
        "1.2.2",
        0,
        "0 of 8 cases correct.\n"
        "linear_net raised ValueError: not done (at construction.py, line 7, in "
        "linear_net) (in all 8 cases)",
    ),
    (
        "faults",
        "1.3.1",
        0,
        "0 of 6 cases correct.\n"
        "constant_net: w1: expected a vector of numbers, found an array of booleans "
        "(in all 6 cases)",
    ),
    (
        "faults",
        "1.4",
        0,
        "hat_net(): b: found infinity at index 0 (1 non-finite values); "
        "expected finite numbers",
    ),
    (
        "faults",
        "1.7.1",
        0,
        "0 of 4 cases correct.\n"
        "square_net(0.5, -1, 1): sup |f(x) - x²| over [-1, 1] is 1 at x = -1; "
        "expected below eps = 0.5\n"
        "square_net(0.1, 0, 3): sup |f(x) - x²| over [0, 3] is 9 at x = 3; "
        "expected below eps = 0.1\n"
        f"square_net: {WIDTH} (in square_net(0.01, -2, 2), square_net(0.001, -5, 2))",
    ),
    (
        "faults",
        "1.7.2",
        0,
        "0 of 6 cases correct.\n"
        f"square_net: {WIDTH} (in 5 of 6 cases)\n"
        "square_net, hidden case 5 of 6: sup |f(x) - x²| over [lo, hi] is 45 × eps",
    ),
]


@pytest.mark.parametrize(
    ("submission", "number", "fraction", "message"),
    FAILED,
    ids=[f"{row[0]}-{row[1]}" for row in FAILED],
)
def test_feedback_of_a_wrong_construction(
    graded, submission, number, fraction, message
):
    test = graded[submission][number]
    assert test["score"] == pytest.approx(fraction * test["max_score"], abs=1e-5)
    assert test["status"] == "failed"
    assert feedback(test) == message
    assert "grader-error" not in test["tags"]


def test_hidden_tests_never_show_their_inputs(graded):
    hidden = [
        n for n, t in graded["wrong_values"].items() if t["visibility"] != "visible"
    ]
    assert hidden == ["1.2.2", "1.3.2", "1.7.2"]
    for number in hidden:
        text = feedback(graded["wrong_values"][number])
        assert "hidden case" in text
        assert not re.search(r"f\([-\d]|_net\(|eps = ", text)
