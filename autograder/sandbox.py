"""Running the worker: user switch, network cut, limits, timeouts, output.

The grader starts one worker per part of the homework and sends it probes.
A worker that hangs past a probe's timeout, dies, or answers something that
is not plain data of the protocol is killed with every process it started,
and the next probe gets a fresh worker.

What isolation holds depends on how the grader runs:

- As root (Gradescope), the worker runs as an unprivileged user (``setpriv``
  with no new privileges and a parent-death signal), in a network namespace
  of its own where the kernel allows one (``unshare --net``), so it cannot
  read or write the grader's files, reach the network, or outlive the probe:
  every process of that user is killed after a failure and at the end.
- As a normal user (a laptop), the user switch is skipped and logged: the
  worker is still a separate process with the same limits, in a network
  namespace when unprivileged user namespaces are allowed, but it can read
  whatever that user can read, and a process that leaves its session is
  outside the reach of the final kill.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import GraderError, ProbeTimeout, ProtocolError, WorkerDied
from .worker import protocol

log = logging.getLogger(__name__)

WORKER_PACKAGE = Path(__file__).resolve().parent / "worker"


@dataclass(frozen=True)
class Limits:
    """Bounds on one worker; every field can be set in the specs."""

    memory_mb: int = 3072
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    output_kb: int = 16
    answer_mb: int = 64
    startup_timeout: float = 60.0


@dataclass(frozen=True)
class Reply:
    """One answered probe: the reply message, the output, the duration."""

    message: dict
    output: str
    duration: float


class OutputBuffer:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int):
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.limit - len(self.kept)
        self.kept += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def take(self) -> str:
        text = self.kept.decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes of output not shown]"
        self.kept = bytearray()
        self.dropped = 0
        return text


@functools.cache
def _command_works(*command: str) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def worker_account(name: str) -> pwd.struct_passwd | None:
    """The account the worker runs as, or None when no switch is possible."""
    if os.geteuid() != 0:
        return None
    for candidate in (name, "nobody"):
        try:
            return pwd.getpwnam(candidate)
        except KeyError:
            log.warning("worker user %r does not exist", candidate)
    raise GraderError(
        f"running as root but neither {name!r} nor 'nobody' exists: "
        "run setup.sh, which creates the worker user"
    )


class IsolationPlan:
    """How workers are started on this machine, decided once per run."""

    def __init__(self, user_name: str):
        self.account = worker_account(user_name)
        if self.account is None:
            log.warning(
                "not running as root: the worker user switch is skipped; the "
                "worker runs as this user in a separate process"
            )
            self.netns = _command_works(
                "unshare", "--user", "--map-root-user", "--net", "true"
            )
            prefix = ["unshare", "--user", "--map-root-user", "--net", "--"]
        else:
            self.netns = _command_works("unshare", "--net", "true")
            prefix = ["unshare", "--net", "--"]
        if not self.netns:
            log.warning(
                "network namespaces are unavailable: the worker keeps the network"
            )
            prefix = []
        self.prefix = prefix + self._drop()

    def _drop(self) -> list[str]:
        drop = ["setpriv", "--pdeathsig", "KILL", "--no-new-privs"]
        if self.account is not None:
            drop += [
                f"--reuid={self.account.pw_uid}",
                f"--regid={self.account.pw_gid}",
                "--clear-groups",
            ]
        return drop + ["--"]

    def own(self, path: Path) -> None:
        """Give ``path`` to the worker's user (a no-op without a switch)."""
        if self.account is not None:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def kill_everything(self) -> None:
        """Kill every process of the worker's user (only with a switch)."""
        if self.account is None:
            return
        subprocess.run(
            [
                "setpriv",
                f"--reuid={self.account.pw_uid}",
                f"--regid={self.account.pw_gid}",
                "--clear-groups",
                "kill",
                "-KILL",
                "-1",
            ],
            capture_output=True,
            check=False,
        )


class RunDir:
    """The temporary tree of one grading run.

    ``runtime/`` holds a copy of the worker package, ``submission/`` a copy of
    the student's files and ``provided/`` the modules the grader supplies in
    place of the student's (both read-only for the worker); every worker gets
    a fresh, private ``scratch-N/`` as its home and working folder.
    """

    def __init__(self, plan: IsolationPlan, submission: Path, provided: list[Path]):
        self.plan = plan
        self.root = Path(tempfile.mkdtemp(prefix="dlag-"))
        self.root.chmod(0o711)
        self.runtime = self.root / "runtime"
        shutil.copytree(
            WORKER_PACKAGE,
            self.runtime / "dlag_worker",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        self.submission = self.root / "submission"
        shutil.copytree(submission, self.submission, symlinks=False)
        self.provided = self.root / "provided"
        self.provided.mkdir()
        for path in provided:
            shutil.copy2(path, self.provided / path.name)
        for top in (self.runtime, self.submission, self.provided):
            _make_readable(top)
        self._scratch_count = 0

    def new_scratch(self) -> Path:
        self._scratch_count += 1
        scratch = self.root / f"scratch-{self._scratch_count}"
        scratch.mkdir(mode=0o700)
        self.plan.own(scratch)
        return scratch

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _make_readable(top: Path) -> None:
    for path in [top, *top.rglob("*")]:
        if path.is_symlink():
            path.unlink()
        elif path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o644)


class Worker:
    """One worker process and the pipes to it."""

    def __init__(
        self, plan: IsolationPlan, rundir: RunDir, limits: Limits, threads: int
    ):
        self.plan = plan
        self.rundir = rundir
        self.limits = limits
        self.threads = threads
        self.process: subprocess.Popen | None = None
        self.output = OutputBuffer(limits.output_kb * 1024)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        scratch = self.rundir.new_scratch()
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._out_r, out_w = os.pipe()
        settings = {
            "req_fd": req_r,
            "resp_fd": resp_w,
            "submission": str(self.rundir.submission),
            "provided": str(self.rundir.provided),
            "threads": self.threads,
            "limits": asdict(self.limits),
        }
        bootstrap = (
            "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from dlag_worker.main import main; main()"
        )
        command = [
            *self.plan.prefix,
            worker_python(),
            "-I",
            "-B",
            "-c",
            bootstrap,
            str(self.rundir.runtime),
            json.dumps(settings),
        ]
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(scratch),
            "TMPDIR": str(scratch),
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": str(self.threads),
            "MKL_NUM_THREADS": str(self.threads),
            "OPENBLAS_NUM_THREADS": str(self.threads),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": str(scratch),
            "PYTHONHASHSEED": "0",
        }
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            if key in os.environ:
                env[key] = os.environ[key]
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=out_w,
                pass_fds=(req_r, resp_w),
                cwd=scratch,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise GraderError(
                f"could not start the worker ({command[0]}): {exc}"
            ) from exc
        finally:
            for fd in (req_r, resp_w, out_w):
                os.close(fd)
        log.debug("worker %s started: %s", self.process.pid, " ".join(command[:-1]))
        hello = self._receive(self.limits.startup_timeout, starting=True)
        if not hello.get("ready"):
            self.stop()
            raise GraderError(f"the worker did not start properly: {hello!r}")
        self.output.take()

    def request(self, message: dict, timeout: float) -> Reply:
        """Send one probe and wait for its reply, the output and the time."""
        if not self.alive:
            self.start()
        started = time.perf_counter()
        try:
            os.write(self._req_w, protocol.dumps(message))
        except OSError:
            pass  # the worker died; _receive reports how
        reply = self._receive(timeout)
        return Reply(reply, self.output.take(), time.perf_counter() - started)

    def _receive(self, timeout: float, starting: bool = False) -> dict:
        deadline = time.monotonic() + timeout
        header = bytearray()
        body = bytearray()
        length = None
        with selectors.DefaultSelector() as selector:
            selector.register(self._resp_r, selectors.EVENT_READ, "reply")
            selector.register(self._out_r, selectors.EVENT_READ, "output")
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.stop()
                    if starting:
                        raise GraderError(
                            f"the worker did not start within {timeout:.0f} s"
                        )
                    raise ProbeTimeout(f"did not finish within {timeout:g} s")
                events = selector.select(min(remaining, 0.5))
                replying = any(key.data == "reply" for key, _ in events)
                if not replying and not self.alive:
                    self._drain_output()
                    code = self.process.returncode if self.process else None
                    self.stop()
                    raise WorkerDied(_death_text(code))
                for key, _ in events:
                    chunk = os.read(key.fd, 1 << 16)
                    if key.data == "output":
                        if chunk:
                            self.output.add(chunk)
                        else:
                            selector.unregister(self._out_r)
                        continue
                    if not chunk:
                        self._drain_output()
                        self.process.wait()
                        code = self.process.returncode
                        self.stop()
                        raise WorkerDied(_death_text(code))
                    if length is None:
                        header += chunk
                        if len(header) < protocol.HEADER.size:
                            continue
                        (length,) = protocol.HEADER.unpack(header[:4])
                        body += header[4:]
                        if length > self.limits.answer_mb * 1024 * 1024:
                            self.stop()
                            raise ProtocolError(
                                f"answered with {length / 2**20:.0f} MB of data; "
                                f"the limit is {self.limits.answer_mb} MB"
                            )
                    else:
                        body += chunk
                    if len(body) >= length:
                        self._drain_output()
                        return self._decode(bytes(body[:length]))

    def _decode(self, body: bytes) -> dict:
        try:
            message = protocol.loads(body)
        except protocol.DecodeError as exc:
            self.stop()
            raise ProtocolError(
                f"the worker's answer could not be read: {exc}"
            ) from None
        if not isinstance(message, dict):
            self.stop()
            raise ProtocolError("the worker's answer is not a message")
        return message

    def _drain_output(self) -> None:
        """Collect what the worker printed before its reply, without waiting."""
        os.set_blocking(self._out_r, False)
        try:
            while True:
                chunk = os.read(self._out_r, 1 << 16)
                if not chunk:
                    break
                self.output.add(chunk)
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(self._out_r, True)

    def stop(self) -> None:
        """Kill the worker and everything it started; close the pipes."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.plan.kill_everything()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("worker %s survived SIGKILL for 10 s", self.process.pid)
        for fd in (self._req_w, self._resp_r, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None


def worker_python() -> str:
    """The interpreter of this environment by a path the worker can reach.

    ``sys.executable`` may run through a link inside the grader's private
    tree (``.venv``); the resolved environment folder is outside it.
    """
    candidate = Path(os.path.realpath(sys.prefix)) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def _death_text(code: int | None) -> str:
    if code is None:
        return "the process running your code stopped unexpectedly"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = ""
        if name == "SIGKILL":
            hint = " (often: it ran out of memory)"
        elif name == "SIGXFSZ":
            hint = " (it wrote a file larger than allowed)"
        return f"the process running your code was killed by {name}{hint}"
    return f"the process running your code exited with status {code}"
