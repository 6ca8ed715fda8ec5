"""Worker accounts: runs that overlap as root never share a worker user."""

from __future__ import annotations

import os
import pwd
import subprocess
import time

import pytest

from autograder import accounts, sandbox

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="worker users are switched as root only"
)


def test_overlapping_runs_get_worker_users_of_their_own():
    with accounts.worker_slot("dlag-worker") as first:
        with accounts.worker_slot("dlag-worker") as second:
            assert first.pw_uid != second.pw_uid
            assert second.pw_name.startswith("dlag-worker-")
            assert pwd.getpwnam(second.pw_name).pw_uid == second.pw_uid


def test_a_released_slot_is_taken_again():
    with accounts.worker_slot("dlag-worker") as first:
        name = first.pw_name
    with accounts.worker_slot("dlag-worker") as again:
        assert again.pw_name == name


def test_a_new_plan_kills_what_an_old_run_of_its_slot_left(tmp_path):
    with accounts.worker_slot("dlag-worker") as account:
        leftover = subprocess.Popen(
            [
                "setpriv",
                f"--reuid={account.pw_uid}",
                f"--regid={account.pw_gid}",
                "--clear-groups",
                "sleep",
                "120",
            ],
            start_new_session=True,
        )
        time.sleep(0.2)
        assert leftover.poll() is None
        sandbox.IsolationPlan(account)
        assert leftover.wait(timeout=10) == -9


def test_root_without_an_account_is_a_grader_error():
    from autograder.errors import GraderError

    with pytest.raises(GraderError, match="needs a worker account"):
        sandbox.IsolationPlan(None)
