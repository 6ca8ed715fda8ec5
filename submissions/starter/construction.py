"""Part 1: networks built by hand.

Every network here computes f(x) = w1ᵀ σ(w0·x + b) for a real input x: the
hidden layer has d units, and w0, b and w1 are vectors of length d. Return
each vector as a list of floats (a numpy array or a torch tensor works too).
"""

import math


def identity_net():
    """Weights of a ReLU network with b = 0 that computes f(x) = x on all of ℝ.

    Returns:
        (w0, w1), two vectors of the same length.
    """
    # Which two ReLU units add up to x for both signs of x?
    raise NotImplementedError("identity_net")


def linear_net(m, c):
    """Weights of a ReLU network that computes f(x) = m·x + c on all of ℝ.

    Args:
        m: the slope, any real number.
        c: the intercept, any real number.

    Returns:
        (w0, b, w1), three vectors of the same length.
    """
    # Start from identity_net and put m·x + c where x was.
    raise NotImplementedError("linear_net")


def constant_net(c):
    """Weights of a sigmoid network with b = 0 that computes f(x) = c.

    Args:
        c: the constant, any real number.

    Returns:
        (w0, w1), two vectors of the same length.
    """
    # What does a sigmoid unit output when w0 = 0?
    raise NotImplementedError("constant_net")


def hat_net():
    """Weights of a ReLU network with 3 units that computes max(0, 6 - 3·|x|).

    Returns:
        (w0, b, w1), three vectors of length 3.
    """
    # Put one kink at each of x = -2, 0, 2 and weight it by the change of slope.
    raise NotImplementedError("hat_net")


def square_net(eps, lo, hi):
    """Weights of a ReLU network with |f(x) - x²| < eps for every x in [lo, hi].

    Args:
        eps: the largest error allowed, eps > 0.
        lo: the left end of the interval.
        hi: the right end of the interval, hi >= lo.

    Returns:
        (w0, b, w1), three vectors of the same length.
    """
    # Join points of x² on a fine enough grid, one ReLU kink at each inner point.
    raise NotImplementedError("square_net")
