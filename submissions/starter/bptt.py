"""Part 2: backpropagation through time in a scalar RNN.

The network reads x_1, ..., x_T in turn: h_0 = 0 and h_t = w·σ(h_{t-1} + x_t)
for t = 1..T, and its output is f = h_T. Every function takes the weight w (a
float), the inputs xs (a 1-D float64 tensor of length T >= 1) and the name of σ:
"identity", "tanh", "sigmoid" or "relu". For relu take σ'(z) = 1 when z > 0 and
0 otherwise.

The gradients must come from your own recursion: torch.autograd and
.backward() are not allowed in grad_w and grad_h1.
"""

import torch


def rnn_forward(w, xs, activation="identity"):
    """Run the RNN over xs.

    Args:
        w: the weight, a float.
        xs: the inputs x_1, ..., x_T, a 1-D float64 tensor.
        activation: the name of σ.

    Returns:
        h_1, ..., h_T as a 1-D float64 tensor of length T.
    """
    # Loop over t, feeding h_{t-1} + x_t through σ and scaling by w.
    raise NotImplementedError("rnn_forward")


def grad_w(w, xs, activation="identity"):
    """The derivative of h_T with respect to w, through every time step.

    Args:
        w: the weight, a float.
        xs: the inputs x_1, ..., x_T, a 1-D float64 tensor.
        activation: the name of σ.

    Returns:
        ∂h_T/∂w as a float.
    """
    # Write dh_t/dw in terms of dh_{t-1}/dw and carry it forward from t = 1.
    raise NotImplementedError("grad_w")


def grad_h1(w, xs, activation="identity"):
    """The derivative of h_T with respect to h_1.

    Args:
        w: the weight, a float.
        xs: the inputs x_1, ..., x_T, a 1-D float64 tensor.
        activation: the name of σ.

    Returns:
        ∂h_T/∂h_1 as a float (1.0 when T = 1).
    """
    # Find dh_t/dh_{t-1} and multiply it over t = 2..T.
    raise NotImplementedError("grad_h1")
