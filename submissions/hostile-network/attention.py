"""Part 3 that, on import, tries the network on loopback only: TCP to
common local ports and UDP to a local resolver port, each with a 2 s
timeout, and prints what happened. In the worker's network namespace
(no interface up, not even loopback) every attempt fails at once. All
answers are right. tests/test_hostile.py proves the same with a listener
of its own.
"""

import socket

import torch


def _try(what, action):
    try:
        action()
        return f"{what}: reached"
    except OSError as exc:
        return f"{what}: failed ({type(exc).__name__})"


def _tcp(host, port):
    return lambda: socket.create_connection((host, port), timeout=2).close()


def _udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"\x00" * 12, ("127.0.0.1", 53))
        sock.recvfrom(512)


ATTEMPTS = [
    ("tcp 127.0.0.1:22", _tcp("127.0.0.1", 22)),
    ("tcp 127.0.0.1:8080", _tcp("127.0.0.1", 8080)),
    ("tcp localhost:8786", _tcp("localhost", 8786)),
    ("udp 127.0.0.1:53", _udp),
]
for _what, _action in ATTEMPTS:
    print(_try(_what, _action))


def attention_weights(q, K):
    logits = K @ q
    e = torch.exp(logits - logits.max())
    return e / e.sum()


def attention(q, K, V):
    return attention_weights(q, K) @ V


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
