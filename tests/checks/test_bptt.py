"""Part 2 graded end to end: every feedback message of its tests, exactly."""

from __future__ import annotations

import pytest
from part_grading import feedback, grade_files, solution

COMMON = """
    import torch

    SIGMA = {
        "identity": lambda z: z,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "abs": torch.abs,
    }
    SLOPE = {
        "identity": torch.ones_like,
        "tanh": lambda z: 1 - torch.tanh(z) ** 2,
        "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
        "relu": lambda z: (z > 0).double(),
    }


    def states(w, xs, activation):
        hs, h = [], torch.zeros((), dtype=torch.float64)
        for x in xs:
            h = w * SIGMA[activation](h + x)
            hs.append(h)
        return torch.stack(hs)


    def inputs(w, xs, activation):
        hs = states(w, xs, activation)
        return xs + torch.cat([xs.new_zeros(1), hs[:-1]])


    def recursion(w, xs, activation):
        grad = torch.zeros((), dtype=torch.float64)
        for z in inputs(w, xs, activation):
            grad = SIGMA[activation](z) + w * SLOPE[activation](z) * grad
        return float(grad)
"""

WRONG = (
    COMMON
    + """

    def rnn_forward(w, xs, activation="identity"):
        # relu taken for abs.
        return states(w, xs, "abs" if activation == "relu" else activation)


    def grad_w(w, xs, activation="identity"):
        if activation != "tanh":
            return recursion(w, xs, activation)
        weight = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(states(weight, xs, activation)[-1], weight)
        return float(grad)


    def grad_h1(w, xs, activation="identity"):
        # One factor too many: t = 1..T.
        return float(torch.prod(w * SLOPE[activation](inputs(w, xs, activation))))
"""
)

WRONG_FORMS = (
    COMMON
    + """

    def rnn_forward(w, xs, activation="identity"):
        hs = states(w, xs, activation)
        if activation == "identity":
            return torch.cat([hs, hs[-1:]])
        if activation == "tanh":
            hs[-1] = float("nan")
            return hs
        if activation == "sigmoid":
            return "h"
        raise KeyError(activation)


    def grad_w(w, xs, activation="identity"):
        if activation == "identity":
            return [1.0, 2.0]
        if activation == "tanh":
            return float("nan")
        return recursion(w, xs, activation)
"""
)

TRANSFORMS = (
    COMMON
    + """

    def rnn_forward(w, xs, activation="identity"):
        return states(w, xs, activation)


    def grad_w(w, xs, activation="identity"):
        def last(weight):
            return states(weight, xs, activation)[-1]

        return float(torch.func.grad(last)(torch.tensor(w, dtype=torch.float64)))


    def grad_h1(w, xs, activation="identity"):
        def last(h1):
            h = h1
            for x in xs[1:]:
                h = w * SIGMA[activation](h + x)
            return h

        h1 = states(w, xs, activation)[0]
        return float(torch.func.jacfwd(last)(h1))
"""
)

SUBMISSIONS = {
    "reference": None,
    "wrong": WRONG,
    "wrong_forms": WRONG_FORMS,
    "transforms": TRANSFORMS,
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    return {
        name: grade_files(
            tmp_path_factory, {"bptt.py": text or solution("bptt.py")}, "bptt"
        )
        for name, text in SUBMISSIONS.items()
    }


def summary(activation, passed, total=12):
    earned = "earns" if passed == total else "misses"
    return (
        f"{activation}: {passed} of {total} cases correct "
        f"({earned} its 25% of the points)"
    )


ALL_RIGHT = "\n".join(
    summary(activation, 12) for activation in ("identity", "tanh", "sigmoid", "relu")
)
AUTOGRAD = (
    "{function} used autograd ({what}): {question} asks for the gradient from your "
    "own recursion, without torch.autograd or .backward(), so this test gets 0 "
    "points."
)

ROWS = [
    ("reference", "2.2", 1, ALL_RIGHT),
    ("reference", "2.3", 1, ALL_RIGHT),
    ("reference", "2.4", 1, ALL_RIGHT),
    ("transforms", "2.2", 1, ALL_RIGHT),
    (
        "wrong",
        "2.2",
        0.75,
        (
            "identity: 12 of 12 cases correct (earns its 25% of the points)\n"
            "tanh: 12 of 12 cases correct (earns its 25% of the points)\n"
            "sigmoid: 12 of 12 cases correct (earns its 25% of the points)\n"
            "relu: 1 of 12 cases correct (misses its 25% of the points)\n"
            "  rnn_forward(w=-0.793091, xs of length 1, 'relu'): h_1 = -0.795451, expected 0 (wrong at 1 of 1 steps)\n"
            "  rnn_forward(w=-0.50506, xs of length 2, 'relu'): h_1 = -0.0356761, expected 0 (wrong at 2 of 2 steps)\n"
            "  ... and 9 more failing cases"
        ),
    ),
    (
        "wrong",
        "2.3",
        0,
        AUTOGRAD.format(function="grad_w", what="torch.autograd.grad", question="2.3"),
    ),
    (
        "wrong",
        "2.4",
        0,
        (
            "identity: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  grad_h1(w=-0.698925, xs of length 1, 'identity'): returned -0.698925, expected 1\n"
            "  grad_h1(w=-1.15485, xs of length 1, 'identity'): returned -1.15485, expected 1\n"
            "  ... and 10 more failing cases\n"
            "tanh: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  grad_h1(w=-0.88428, xs of length 1, 'tanh'): returned -0.526963, expected 1\n"
            "  grad_h1(w=1.30071, xs of length 1, 'tanh'): returned 0.290287, expected 1\n"
            "  ... and 10 more failing cases\n"
            "sigmoid: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  grad_h1(w=0.57116, xs of length 1, 'sigmoid'): returned 0.105031, expected 1\n"
            "  grad_h1(w=1.40558, xs of length 1, 'sigmoid'): returned 0.292754, expected 1\n"
            "  ... and 10 more failing cases\n"
            "relu: 9 of 12 cases correct (misses its 25% of the points)\n"
            "  grad_h1(w=-0.928031, xs of length 1, 'relu'): returned 0, expected 1\n"
            "  grad_h1(w=-1.22361, xs of length 1, 'relu'): returned -1.22361, expected 1\n"
            "  ... and 1 more failing case"
        ),
    ),
    (
        "wrong_forms",
        "2.2",
        0,
        (
            "identity: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  rnn_forward: expected a vector of 1 numbers, found 2 (in rnn_forward(w=0.777181, xs of length 1, 'identity'), rnn_forward(w=-1.3641, xs of length 1, 'identity'))\n"
            "  rnn_forward: expected a vector of 2 numbers, found 3 (in rnn_forward(w=0.882808, xs of length 2, 'identity'), rnn_forward(w=-1.26838, xs of length 2, 'identity'))\n"
            "  ... and 8 more failing cases\n"
            "tanh: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  rnn_forward: found NaN at index 0 (1 non-finite values); expected finite numbers (in rnn_forward(w=0.520555, xs of length 1, 'tanh'), rnn_forward(w=1.2897, xs of length 1, 'tanh'))\n"
            "  rnn_forward: found NaN at index 1 (1 non-finite values); expected finite numbers (in rnn_forward(w=-0.701486, xs of length 2, 'tanh'), rnn_forward(w=1.33486, xs of length 2, 'tanh'))\n"
            "  ... and 8 more failing cases\n"
            "sigmoid: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  rnn_forward: expected a vector of 1 numbers, found the string 'h' (in rnn_forward(w=-0.482385, xs of length 1, 'sigmoid'), rnn_forward(w=1.49639, xs of length 1, 'sigmoid'))\n"
            "  rnn_forward: expected a vector of 2 numbers, found the string 'h' (in rnn_forward(w=-0.76915, xs of length 2, 'sigmoid'), rnn_forward(w=1.09398, xs of length 2, 'sigmoid'))\n"
            "  ... and 8 more failing cases\n"
            "relu: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  rnn_forward raised KeyError: 'relu' (at bptt.py, line 48, in rnn_forward) (in all 12 cases)"
        ),
    ),
    (
        "wrong_forms",
        "2.3",
        0.5,
        (
            "identity: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  grad_w: expected a single number, found shape (2,) (in all 12 cases)\n"
            "tanh: 0 of 12 cases correct (misses its 25% of the points)\n"
            "  grad_w: returned nan, expected a finite number (in all 12 cases)\n"
            "sigmoid: 12 of 12 cases correct (earns its 25% of the points)\n"
            "relu: 12 of 12 cases correct (earns its 25% of the points)"
        ),
    ),
    (
        "wrong_forms",
        "2.4",
        0,
        "bptt.py does not define grad_h1 (in all 48 cases)",
    ),
    (
        "transforms",
        "2.3",
        0,
        AUTOGRAD.format(function="grad_w", what="torch.func.grad", question="2.3"),
    ),
    (
        "transforms",
        "2.4",
        0,
        AUTOGRAD.format(function="grad_h1", what="torch.func.jacfwd", question="2.4"),
    ),
]


@pytest.mark.parametrize(
    ("submission", "number", "fraction", "message"),
    ROWS,
    ids=[f"{row[0]}-{row[1]}" for row in ROWS],
)
def test_feedback_of_bptt(graded, submission, number, fraction, message):
    test = graded[submission][number]
    assert test["score"] == pytest.approx(fraction * test["max_score"], abs=1e-5)
    assert feedback(test) == message
    assert "grader-error" not in test["tags"]
