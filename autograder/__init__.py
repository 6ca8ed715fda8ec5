"""An autograder for a deep-learning homework, producing Gradescope results."""

__version__ = "0.1.0"
