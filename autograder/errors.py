"""The exception types of the autograder, each with when it is raised.

Two families are kept apart on purpose. A ``StudentError`` is a fault of the
submission: its message is written for the student and costs the points of
the test that raised it. A ``GraderError`` is a fault of the autograder or of
its configuration: its message is written for course staff, and the student
only learns that the test could not be run.
"""

from __future__ import annotations


class GraderError(Exception):
    """A fault of the autograder itself: a bug, a broken install, a bad spec."""


class SpecError(GraderError):
    """A YAML spec is malformed; raised before any grading starts.

    The message names the file, the line or key, and what is allowed.
    """


class SubmissionError(Exception):
    """The submission as a whole cannot be read (bad zip, missing folder).

    Raised before any worker starts; every test of the run fails with the
    message, and a valid results.json is still written.
    """


class StudentError(Exception):
    """A fault of the submission that fails one test, with a message for it.

    Raised by checks ("hat_net: f(1.0) = 2.0, expected 3.0") and by the
    sandbox when the student's code crashes, hangs or answers garbage.
    """


class ProbeTimeout(StudentError):
    """The student's code did not answer a probe within its time limit."""


class WorkerDied(StudentError):
    """The worker process ended while running the student's code."""


class ProtocolError(StudentError):
    """The worker's answer could not be decoded, or was larger than allowed."""


class StudentException(StudentError):
    """The student's code raised an exception; carries its type and message."""

    def __init__(self, message: str, exc_type: str, exc_message: str, where: str):
        super().__init__(message)
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.where = where
