"""Part 3 whose 3.1 functions return the wrong forms: attention_weights a
column of shape (n, 1) instead of a vector of n numbers, attention nothing
at all (None). The feedback names the expected form and what came back.
"""

import torch


def attention_weights(q, K):
    logits = K @ q
    e = torch.exp(logits - logits.max())
    return (e / e.sum()).reshape(-1, 1)


def attention(q, K, V):
    (attention_weights(q, K).T @ V).reshape(-1)


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
