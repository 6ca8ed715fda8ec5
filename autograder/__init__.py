"""An autograder for a deep-learning homework, producing Gradescope results."""

from . import numerics

__version__ = "0.1.0"

# Before anything of this package imports torch: see autograder/numerics.py.
numerics.pin()
