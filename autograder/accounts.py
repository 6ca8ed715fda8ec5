"""The unprivileged accounts that run student code, one per concurrent run.

As root, a run ends each part by killing every process of its worker's
user. Two runs that overlap on one machine (staff grading twice at once, a
batch regrade, two test suites) must therefore never share that user. Each
run holds a numbered slot, a lock file under ``/run``, for as long as it
grades: slot 1 uses the worker user of ``specs/grader.yaml`` (``setup.sh``
creates it), slot N > 1 the user ``<worker_user>-N``, created on first use
the same way. A lock dies with its process, so a run that was killed frees
its slot; the next holder first kills whatever the old run left behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import pwd
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import GraderError

log = logging.getLogger(__name__)

SLOT_DIRS = (Path("/run/dl-autograder/slots"), Path("/var/lock/dl-autograder"))
MAX_SLOTS = 256


def ensure_user(name: str) -> pwd.struct_passwd:
    """The account ``name``, created as a system user if missing (root only)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    done = subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise GraderError(
            f"could not create the worker user {name!r}: {done.stderr.strip()}; "
            "run setup.sh as root, which creates it"
        ) from None
    log.info("created the worker user %s", name)
    return account


def _slot_dir() -> Path:
    for folder in SLOT_DIRS:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            return folder
        except OSError:
            continue
    raise GraderError(f"no folder for grading slots: tried {SLOT_DIRS}")


def slot_user(base_user: str, number: int) -> str:
    return base_user if number == 1 else f"{base_user}-{number}"


@contextmanager
def worker_slot(base_user: str) -> Iterator[pwd.struct_passwd | None]:
    """Hold a grading slot for the duration; yield its worker account.

    Without root there is no user switch, nothing to keep apart, and the
    account is None.
    """
    if os.geteuid() != 0:
        yield None
        return
    folder = _slot_dir()
    while True:
        for number in range(1, MAX_SLOTS + 1):
            handle = open(folder / f"slot-{number}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                account = ensure_user(slot_user(base_user, number))
                log.info("grading slot %d: worker user %s", number, account.pw_name)
                yield account
            finally:
                handle.close()
            return
        log.info("all %d grading slots are taken; waiting", MAX_SLOTS)
        time.sleep(0.5)
