"""Part 3 graded end to end: every feedback message of its tests, exactly.

The cost test of 3.5 runs alone (a specs folder with only that test) for
each way of getting it wrong.
"""

from __future__ import annotations

import pytest
from part_grading import feedback, grade_files, solution, specs_with_only

BUGS = [
    (
        "    e = torch.exp(logits - logits.max())\n    return e / e.sum()\n",
        "    e = torch.exp(logits)\n    return e / e.sum()\n",
    ),
    ("    return 100.0 * k / (k @ k)", "    return 100.0 * k"),
    (
        "    return 100.0 * (K[i] + K[j]) / (K[i] @ K[i])",
        "    return 100.0 * K[i] / (K[i] @ K[i])",
    ),
    (
        "    logits = -((K - q) ** 2).sum(dim=1) / (2.0 * sigma)",
        "    logits = -((K - q) ** 2).sum(dim=1) / (2.0 * sigma**2)",
    ),
    ("    return M @ (s[:, None] * (N @ V))", "    return (M * s) @ N @ V"),
]

WRONG_FORMS = """
    import torch


    def attention_weights(q, K):
        e = torch.exp(K @ q - (K @ q).max())
        return torch.cat([e / e.sum(), torch.zeros(1, dtype=e.dtype)])


    def attention(q, K, V):
        return V.mean(dim=0)


    def copy_query(K, i):
        return [1.0, 2.0]


    def average_query(K, i, j):
        return torch.full((K.shape[1],), float("nan"))


    def gaussian_attention(q, K, V, sigma):
        e = torch.exp(-((K - q) ** 2).sum(dim=1) / (2.0 * sigma))
        return (e / e.sum()) @ V


    def lowrank_attention(M, s, N, V):
        # Pads the rank to 64 first.
        n, k = M.shape
        wide_M = torch.zeros(n, 64, dtype=M.dtype)
        wide_M[:, :k] = M * s
        wide_N = torch.zeros(64, n, dtype=N.dtype)
        wide_N[:k] = N
        return wide_M @ (wide_N @ V)
"""

COSTLY = {
    "numpy_dense": """
        import numpy as np
        import torch


        def lowrank_attention(M, s, N, V):
            dense = M.numpy() @ np.diag(s.numpy()) @ N.numpy()
            return torch.from_numpy(dense @ V.numpy())
    """,
    "numpy_buffer": """
        import numpy as np
        import torch


        def lowrank_attention(M, s, N, V):
            buffer = np.zeros((M.shape[0], 100))
            buffer[:, : M.shape[1]] = M.numpy() * s.numpy()
            return torch.from_numpy(buffer[:, : M.shape[1]] @ (N.numpy() @ V.numpy()))
    """,
    "repeated_products": """
        def lowrank_attention(M, s, N, V):
            for _ in range(2):
                M @ (N @ V)
            return M @ (s[:, None] * (N @ V))
    """,
    "numpy_cheap": """
        import torch


        def lowrank_attention(M, s, N, V):
            M, s, N, V = M.numpy(), s.numpy(), N.numpy(), V.numpy()
            return torch.from_numpy(M @ (s[:, None] * (N @ V)))
    """,
    "ignores_s": """
        def lowrank_attention(M, s, N, V):
            return M @ (N @ V)
    """,
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    wrong = solution("attention.py")
    for old, new in BUGS:
        assert wrong.count(old) == 1, old
        wrong = wrong.replace(old, new)
    files = {
        "reference": solution("attention.py"),
        "wrong": wrong,
        "wrong_forms": WRONG_FORMS,
    }
    return {
        name: grade_files(tmp_path_factory, {"attention.py": text}, "attention")
        for name, text in files.items()
    }


@pytest.fixture(scope="module")
def costly(tmp_path_factory):
    specs = specs_with_only(tmp_path_factory, "attention", ["lowrank_cost"])
    return {
        name: grade_files(tmp_path_factory, {"attention.py": text}, "attention", specs)
        for name, text in COSTLY.items()
    }


PASSED = {
    "3.1.1": "4 of 4 cases correct.",
    "3.1.2": "3 of 3 cases correct.",
    "3.1.3": "3 of 3 cases correct.",
    "3.2": "14 of 14 cases correct.",
    "3.3": "8 of 8 cases correct.",
    "3.4.1": "6 of 6 cases correct.",
    "3.4.2": "3 of 3 cases correct.",
    "3.5.1": "4 of 4 cases correct.",
    "3.5.2": "lowrank_attention with n=30000, k=8, d=4: correct, largest "
    "intermediate tensor 960 kB.",
}


@pytest.mark.parametrize("number", sorted(PASSED))
def test_the_reference_gets_full_marks(graded, number):
    test = graded["reference"][number]
    assert test["score"] == test["max_score"] > 0
    assert feedback(test) == PASSED[number]


ROWS = [
    ("wrong", "3.1.1", 1, PASSED["3.1.1"]),
    (
        "wrong",
        "3.1.2",
        0,
        (
            "attention_weights with n=4, d=3, logits up to 10000: found NaN at index 1 (1 non-finite values); expected finite numbers"
        ),
    ),
    (
        "wrong",
        "3.2",
        11 / 14,
        (
            "11 of 14 cases correct.\n"
            "copy_query(K, 0) for 3 orthogonal keys of norm 0.1 in d=6: c differs from v_0 by 0.704171 (tolerance 1.28228e-06); your q gives α_0 = 0.576117\n"
            "copy_query(K, 1) for 3 orthogonal keys of norm 0.1 in d=6: c differs from v_1 by 1.61795 (tolerance 2.36986e-06); your q gives α_1 = 0.576117\n"
            "copy_query(K, 2) for 3 orthogonal keys of norm 0.1 in d=6: c differs from v_2 by 0.913781 (tolerance 1.61195e-06); your q gives α_2 = 0.576117"
        ),
    ),
    (
        "wrong",
        "3.3",
        0,
        (
            "0 of 8 cases correct.\n"
            "average_query(K, 3, 1) for 4 orthogonal keys of norm 1 in d=4: c differs from (v_3 + v_1)/2 by 0.848387 (tolerance 1.14403e-06); your q gives α_3 = 1, α_1 = 3.72008e-44\n"
            "average_query(K, 0, 3) for 4 orthogonal keys of norm 1 in d=4: c differs from (v_0 + v_3)/2 by 1.20995 (tolerance 1.18111e-06); your q gives α_0 = 1, α_3 = 3.72008e-44\n"
            "average_query(K, 0, 1) for 3 orthogonal keys of norm 0.1 in d=6: c differs from (v_0 + v_1)/2 by 1.06048 (tolerance 1.37294e-06); your q gives α_0 = 1, α_1 = 3.72008e-44\n"
            "average_query(K, 1, 0) for 3 orthogonal keys of norm 0.1 in d=6: c differs from (v_1 + v_0)/2 by 1.06048 (tolerance 1.37294e-06); your q gives α_1 = 1, α_0 = 3.72008e-44\n"
            "average_query(K, 0, 3) for 5 orthogonal keys of norm 10 in d=8: c differs from (v_0 + v_3)/2 by 0.855626 (tolerance 1.2329e-06); your q gives α_0 = 1, α_3 = 3.72008e-44\n"
            "average_query(K, 0, 1) for 5 orthogonal keys of norm 10 in d=8: c differs from (v_0 + v_1)/2 by 0.870339 (tolerance 1.56043e-06); your q gives α_0 = 1, α_1 = 3.72008e-44\n"
            "average_query(K, 1, 0) for 2 orthogonal keys of norm 3 in d=3: c differs from (v_1 + v_0)/2 by 1.09842 (tolerance 1e-06); your q gives α_1 = 1, α_0 = 3.72008e-44\n"
            "average_query(K, 0, 1) for 2 orthogonal keys of norm 3 in d=3: c differs from (v_0 + v_1)/2 by 1.09842 (tolerance 1e-06); your q gives α_0 = 1, α_1 = 3.72008e-44"
        ),
    ),
    (
        "wrong",
        "3.4.1",
        0.5,
        (
            "3 of 6 cases correct.\n"
            "gaussian_attention with n=6, d=4, d_v=3, sigma=0.5, q and K of scale 1: c[2] = 1.15786, expected 0.716944 (difference 0.440914, tolerance 1e-08)\n"
            "gaussian_attention with n=12, d=8, d_v=5, sigma=3, q and K of scale 1: c[4] = 0.235931, expected 0.479014 (difference 0.243083, tolerance 1e-08)\n"
            "gaussian_attention with n=20, d=5, d_v=2, sigma=0.25, q and K of scale 2: c[0] = -1.28425, expected -1.2507 (difference 0.0335515, tolerance 1e-08)"
        ),
    ),
    (
        "wrong",
        "3.4.2",
        0,
        (
            "0 of 3 cases correct.\n"
            "gaussian_attention with n=5 keys of norm 1, d=4, sigma=0.5: c[0] = -0.849513, expected -0.507202 = attention(q / sigma, K, V) (difference 0.342311, tolerance 1e-08)\n"
            "gaussian_attention with n=8 keys of norm 3, d=6, sigma=2: c[1] = 0.668276, expected 1.10105 = attention(q / sigma, K, V) (difference 0.432773, tolerance 1e-08)\n"
            "gaussian_attention with n=6 keys of norm 0.5, d=3, sigma=0.1: c[0] = -1.41222, expected -1.26609 = attention(q / sigma, K, V) (difference 0.146131, tolerance 1e-08)"
        ),
    ),
    ("wrong", "3.5.1", 1, PASSED["3.5.1"]),
    (
        "wrong",
        "3.5.2",
        0,
        (
            "lowrank_attention with n=30000, k=8, d=4: ran out of memory (aten.mm.default asked for a tensor of shape (30000, 30000) (7.2 GB)); the grader allows 3072 MB in all. To fix it, multiply in an order that never forms the n × n matrix M·diag(s)·N (N·V is only k × d)."
        ),
    ),
    (
        "wrong_forms",
        "3.1.1",
        0,
        ("attention_weights(q, K): expected a vector of 1 numbers, found 2"),
    ),
    (
        "wrong_forms",
        "3.1.3",
        1 / 3,
        (
            "1 of 3 cases correct.\n"
            "attention with n=6, d=4, d_v=3: c[0] = 0.18894, expected -0.457145 (difference 0.646085, tolerance 1e-08)\n"
            "attention with n=20, d=8, d_v=6: c[0] = 0.239694, expected -1.05199 (difference 1.29168, tolerance 1e-08)"
        ),
    ),
    (
        "wrong_forms",
        "3.2",
        0,
        (
            "0 of 14 cases correct.\n"
            "copy_query: expected a vector of 4 numbers, found 2 (in copy_query(K, 0) for 4 orthogonal keys of norm 1 in d=4, copy_query(K, 1) for 4 orthogonal keys of norm 1 in d=4, copy_query(K, 2) for 4 orthogonal keys of norm 1 in d=4, copy_query(K, 3) for 4 orthogonal keys of norm 1 in d=4)\n"
            "copy_query: expected a vector of 6 numbers, found 2 (in copy_query(K, 0) for 3 orthogonal keys of norm 0.1 in d=6, copy_query(K, 1) for 3 orthogonal keys of norm 0.1 in d=6, copy_query(K, 2) for 3 orthogonal keys of norm 0.1 in d=6)\n"
            "copy_query: expected a vector of 8 numbers, found 2 (in copy_query(K, 0) for 5 orthogonal keys of norm 10 in d=8, copy_query(K, 1) for 5 orthogonal keys of norm 10 in d=8, copy_query(K, 2) for 5 orthogonal keys of norm 10 in d=8 and 2 more)\n"
            "copy_query: expected a vector of 3 numbers, found 2 (in copy_query(K, 0) for 2 orthogonal keys of norm 3 in d=3, copy_query(K, 1) for 2 orthogonal keys of norm 3 in d=3)"
        ),
    ),
    (
        "wrong_forms",
        "3.3",
        0,
        (
            "0 of 8 cases correct.\n"
            "average_query: found NaN at index 0 (4 non-finite values); expected finite numbers (in average_query(K, 3, 1) for 4 orthogonal keys of norm 1 in d=4, average_query(K, 0, 3) for 4 orthogonal keys of norm 1 in d=4)\n"
            "average_query: found NaN at index 0 (6 non-finite values); expected finite numbers (in average_query(K, 0, 1) for 3 orthogonal keys of norm 0.1 in d=6, average_query(K, 1, 0) for 3 orthogonal keys of norm 0.1 in d=6)\n"
            "average_query: found NaN at index 0 (8 non-finite values); expected finite numbers (in average_query(K, 0, 3) for 5 orthogonal keys of norm 10 in d=8, average_query(K, 0, 1) for 5 orthogonal keys of norm 10 in d=8)\n"
            "average_query: found NaN at index 0 (3 non-finite values); expected finite numbers (in average_query(K, 1, 0) for 2 orthogonal keys of norm 3 in d=3, average_query(K, 0, 1) for 2 orthogonal keys of norm 3 in d=3)"
        ),
    ),
    (
        "wrong_forms",
        "3.4.1",
        4 / 6,
        (
            "4 of 6 cases correct.\n"
            "gaussian_attention with n=8, d=3, d_v=3, sigma=0.5, q and K of scale 100: found NaN at index 0 (3 non-finite values); expected finite numbers\n"
            "gaussian_attention with n=10, d=6, d_v=4, sigma=2, q and K of scale 300: found NaN at index 0 (4 non-finite values); expected finite numbers"
        ),
    ),
    ("wrong_forms", "3.4.2", 1, PASSED["3.4.2"]),
    (
        "wrong_forms",
        "3.5.2",
        0,
        (
            "lowrank_attention with n=30000, k=8, d=4: the largest intermediate tensor has shape (30000, 64) (15.4 MB, made by aten.zeros.default), more than the 11.5 MB an O(k·n·d) computation needs. To fix it, multiply in an order that never forms the n × n matrix M·diag(s)·N (N·V is only k × d)."
        ),
    ),
]


@pytest.mark.parametrize(
    ("submission", "number", "fraction", "message"),
    ROWS,
    ids=[f"{row[0]}-{row[1]}" for row in ROWS],
)
def test_feedback_of_attention(graded, submission, number, fraction, message):
    test = graded[submission][number]
    assert test["score"] == pytest.approx(fraction * test["max_score"], abs=1e-5)
    assert feedback(test) == message
    assert "grader-error" not in test["tags"]


COSTS = [
    (
        "numpy_dense",
        (
            "lowrank_attention with n=30000, k=8, d=4: ran out of memory (MemoryError: Unable to allocate 6.71 GiB for an array with shape (30000, 30000) and data type float64); the grader allows 3072 MB in all. To fix it, multiply in an order that never forms the n × n matrix M·diag(s)·N (N·V is only k × d)."
        ),
    ),
    (
        "numpy_buffer",
        (
            "lowrank_attention with n=30000, k=8, d=4: numpy arrays and Python objects took up to 26 MB at once, more than the 11.5 MB an O(k·n·d) computation needs. To fix it, multiply in an order that never forms the n × n matrix M·diag(s)·N (N·V is only k × d)."
        ),
    ),
    (
        "repeated_products",
        (
            "lowrank_attention with n=30000, k=8, d=4: its matrix products took 5.76e+06 multiply-adds, more than the 3.84e+06 an O(k·n·d) computation needs. To fix it, multiply in an order that never forms the n × n matrix M·diag(s)·N (N·V is only k × d)."
        ),
    ),
    (
        "ignores_s",
        (
            "lowrank_attention with n=30000, k=8, d=4: entry (8896, 1) = -2067.71, expected 4420.67 = ((M·diag(s)·N)·V)[8896, 1] (difference 6488.38)"
        ),
    ),
]


@pytest.mark.parametrize(("submission", "message"), COSTS, ids=[c[0] for c in COSTS])
def test_feedback_of_a_costly_lowrank_product(costly, submission, message):
    test = costly[submission]["3.5.2"]
    assert test["score"] == 0
    assert feedback(test) == message
    assert "grader-error" not in test["tags"]


def test_a_cheap_product_in_numpy_passes_too(costly):
    test = costly["numpy_cheap"]["3.5.2"]
    assert test["score"] == test["max_score"]
    assert feedback(test) == (
        "lowrank_attention with n=30000, k=8, d=4: correct, within O(k·n·d) memory."
    )
