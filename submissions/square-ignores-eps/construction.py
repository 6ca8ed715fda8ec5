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
    # BEGIN SOLUTION
    # relu(x) - relu(-x) = x for every real x.
    return [1.0, -1.0], [1.0, -1.0]
    # END SOLUTION
    # BEGIN STUB
    # # Which two ReLU units add up to x for both signs of x?
    # raise NotImplementedError("identity_net")
    # END STUB


def linear_net(m, c):
    """Weights of a ReLU network that computes f(x) = m·x + c on all of ℝ.

    Args:
        m: the slope, any real number.
        c: the intercept, any real number.

    Returns:
        (w0, b, w1), three vectors of the same length.
    """
    # BEGIN SOLUTION
    # relu(z) - relu(-z) = z, here with z = m·x + c.
    m, c = float(m), float(c)
    return [m, -m], [c, -c], [1.0, -1.0]
    # END SOLUTION
    # BEGIN STUB
    # # Start from identity_net and put m·x + c where x was.
    # raise NotImplementedError("linear_net")
    # END STUB


def constant_net(c):
    """Weights of a sigmoid network with b = 0 that computes f(x) = c.

    Args:
        c: the constant, any real number.

    Returns:
        (w0, w1), two vectors of the same length.
    """
    # BEGIN SOLUTION
    # A unit with w0 = 0 outputs sigmoid(0) = 1/2 whatever x is.
    return [0.0], [2.0 * float(c)]
    # END SOLUTION
    # BEGIN STUB
    # # What does a sigmoid unit output when w0 = 0?
    # raise NotImplementedError("constant_net")
    # END STUB


def hat_net():
    """Weights of a ReLU network with 3 units that computes max(0, 6 - 3·|x|).

    Returns:
        (w0, b, w1), three vectors of length 3.
    """
    # BEGIN SOLUTION
    # The slope is 0, then 3 from x = -2, then -3 from x = 0, then 0 from x = 2:
    # one unit at each kink adds the change of slope there.
    return [1.0, 1.0, 1.0], [2.0, 0.0, -2.0], [3.0, -6.0, 3.0]
    # END SOLUTION
    # BEGIN STUB
    # # Put one kink at each of x = -2, 0, 2 and weight it by the change of slope.
    # raise NotImplementedError("hat_net")
    # END STUB


def square_net(eps, lo, hi):
    """Weights of a ReLU network with |f(x) - x²| < eps for every x in [lo, hi].

    Args:
        eps: the largest error allowed, eps > 0.
        lo: the left end of the interval.
        hi: the right end of the interval, hi >= lo.

    Returns:
        (w0, b, w1), three vectors of the same length.
    """
    # BEGIN SOLUTION
    if not eps > 0:
        raise ValueError(f"square_net: eps must be positive, got {eps}")
    if not lo <= hi:
        raise ValueError(f"square_net: need lo <= hi, got lo={lo}, hi={hi}")

    # The line through (a, a²) and (a + h, (a + h)²) is at most h²/4 away from
    # x² between the two points. Knots with spacing h <= sqrt(2·eps) keep the
    # error at eps/2 or below.
    # Bug: ten pieces whatever eps is.
    n = 10
    knots = [lo + (hi - lo) * k / n for k in range(n)] + [float(hi)]
    # The chord from t_k to t_{k+1} has slope t_k + t_{k+1}.
    slopes = [knots[k] + knots[k + 1] for k in range(n)]

    # The first chord, s·(x - lo) + lo², as relu(z) - relu(-z) over all of ℝ.
    s = slopes[0]
    z0 = lo * lo - s * lo
    w0, b, w1 = [s, -s], [z0, -z0], [1.0, -1.0]

    # One unit at each inner knot adds the change of slope there.
    for k in range(1, n):
        w0.append(1.0)
        b.append(-knots[k])
        w1.append(slopes[k] - slopes[k - 1])
    return w0, b, w1
    # END SOLUTION
    # BEGIN STUB
    # # Join points of x² on a fine enough grid, one ReLU kink at each inner point.
    # raise NotImplementedError("square_net")
    # END STUB
