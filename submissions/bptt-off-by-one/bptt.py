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
    # BEGIN SOLUTION
    sigma = {
        "identity": lambda z: z,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
    }[activation]
    w = float(w)
    xs = torch.as_tensor(xs, dtype=torch.float64)

    hs = torch.empty_like(xs)
    h = torch.zeros((), dtype=torch.float64)
    for t in range(len(xs)):
        h = w * sigma(h + xs[t])
        hs[t] = h
    return hs
    # END SOLUTION
    # BEGIN STUB
    # # Loop over t, feeding h_{t-1} + x_t through σ and scaling by w.
    # raise NotImplementedError("rnn_forward")
    # END STUB


def grad_w(w, xs, activation="identity"):
    """The derivative of h_T with respect to w, through every time step.

    Args:
        w: the weight, a float.
        xs: the inputs x_1, ..., x_T, a 1-D float64 tensor.
        activation: the name of σ.

    Returns:
        ∂h_T/∂w as a float.
    """
    # BEGIN SOLUTION
    sigma, sigma_prime = {
        "identity": (lambda z: z, torch.ones_like),
        "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
        "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
        "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    }[activation]
    w = float(w)
    xs = torch.as_tensor(xs, dtype=torch.float64)

    # z_t = h_{t-1} + x_t, the input of σ at step t.
    hs = rnn_forward(w, xs, activation)
    zs = xs + torch.cat([xs.new_zeros(1), hs[:-1]])

    # h_t = w·σ(z_t) and z_t depends on w through h_{t-1}, so
    # dh_t/dw = σ(z_t) + w·σ'(z_t)·dh_{t-1}/dw, starting from dh_0/dw = 0.
    grad = torch.zeros((), dtype=torch.float64)
    for z in zs:
        grad = sigma(z) + w * sigma_prime(z) * grad
    return float(grad)
    # END SOLUTION
    # BEGIN STUB
    # # Write dh_t/dw in terms of dh_{t-1}/dw and carry it forward from t = 1.
    # raise NotImplementedError("grad_w")
    # END STUB


def grad_h1(w, xs, activation="identity"):
    """The derivative of h_T with respect to h_1.

    Args:
        w: the weight, a float.
        xs: the inputs x_1, ..., x_T, a 1-D float64 tensor.
        activation: the name of σ.

    Returns:
        ∂h_T/∂h_1 as a float (1.0 when T = 1).
    """
    # BEGIN SOLUTION
    sigma_prime = {
        "identity": torch.ones_like,
        "tanh": lambda z: 1 - torch.tanh(z) ** 2,
        "sigmoid": lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z)),
        "relu": lambda z: (z > 0).to(z.dtype),
    }[activation]
    w = float(w)
    xs = torch.as_tensor(xs, dtype=torch.float64)

    hs = rnn_forward(w, xs, activation)
    zs = xs + torch.cat([xs.new_zeros(1), hs[:-1]])

    # dh_t/dh_{t-1} = w·σ'(z_t); the chain rule multiplies these for t = 2..T.
    # Bug: multiplies t = 1..T, one factor too many.
    return float(torch.prod(w * sigma_prime(zs)))
    # END SOLUTION
    # BEGIN STUB
    # # Find dh_t/dh_{t-1} and multiply it over t = 2..T.
    # raise NotImplementedError("grad_h1")
    # END STUB
