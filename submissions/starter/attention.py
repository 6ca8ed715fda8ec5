"""Part 3: attention.

Keys K are an (n, d) tensor whose row i is k_i, values V an (n, d_v) tensor and
the query q a (d,) tensor, all float64. The weights are
α_i = exp(k_iᵀq) / Σ_j exp(k_jᵀq) and the output is c = Σ_i α_i·v_i.
"""

import torch


def attention_weights(q, K):
    """The attention weights α of query q over keys K.

    They must stay finite and correct even when |k_iᵀq| reaches 10⁴.

    Args:
        q: the query, shape (d,).
        K: the keys, shape (n, d).

    Returns:
        α, shape (n,), nonnegative and summing to 1.
    """
    # exp overflows past about 709: shift the logits before exponentiating.
    raise NotImplementedError("attention_weights")


def attention(q, K, V):
    """The attention output c = Σ_i α_i·v_i.

    Args:
        q: the query, shape (d,).
        K: the keys, shape (n, d).
        V: the values, shape (n, d_v).

    Returns:
        c, shape (d_v,).
    """
    # Weight the rows of V by attention_weights(q, K).
    raise NotImplementedError("attention")


def copy_query(K, i):
    """A query whose output is v_i, whatever the values are.

    The keys are orthogonal and all have the same norm.

    Args:
        K: the keys, shape (n, d).
        i: the index of the key to copy.

    Returns:
        q, shape (d,).
    """
    # Make k_iᵀq much larger than every other k_jᵀq.
    raise NotImplementedError("copy_query")


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
    # Give k_i and k_j the same large logit and every other key a small one.
    raise NotImplementedError("average_query")


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
    # Same softmax as attention_weights, with -‖q - k_i‖² / (2·sigma) as logits.
    raise NotImplementedError("gaussian_attention")


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
    # M·diag(s)·N is n × n: choose an order of products that never forms it.
    raise NotImplementedError("lowrank_attention")
