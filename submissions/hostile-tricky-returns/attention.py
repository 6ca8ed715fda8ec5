"""Part 3 whose 3.1 functions return objects built to run code when the
grader decodes or compares them: floats and lists that claim to equal
anything, a class whose __reduce__ (pickle), __repr__, __array__ and
__float__ would run a command, and a list nested 100000 deep. Only plain
data crosses to the grader, so all of 3.1 fails. Every other function is
the reference's.
"""

import os

import torch


class Equal(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


class EqualList(list):
    def __eq__(self, other):
        return True


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pickled",))

    def __repr__(self):
        os.system("echo repr ran")
        return "Payload()"

    def __array__(self, *args, **kwargs):
        os.system("echo array ran")
        raise TypeError("no")

    def __float__(self):
        os.system("echo float ran")
        return 1.0


def _deep(depth):
    nested = []
    for _ in range(depth):
        nested = [nested]
    return nested


def attention_weights(q, K):
    """Zeros that claim to equal anything for moderate logits (test 3.1.1),
    a list nested 100000 deep for logits up to 10^4 (test 3.1.2)."""
    if (K @ q).abs().max() < 100:
        return EqualList(Equal(0.0) for _ in range(K.shape[0]))
    return _deep(100000)


def attention(q, K, V):
    return Payload()


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
