"""Running the worker: user switch, network cut, limits, timeouts, output.

The grader starts one worker per part of the homework and sends it probes.
A worker that hangs past a probe's timeout, dies, or answers something that
is not plain data of the protocol is killed with every process it started,
and the next probe gets a fresh worker.

What isolation holds depends on how the grader runs:

- As root (Gradescope), the worker runs as an unprivileged user (``setpriv``
  with no new privileges and a parent-death signal), in network, IPC and
  mount namespaces of its own where the kernel allows them (``unshare``), so
  it cannot read or write the grader's files, reach the network, or outlive
  the probe: every process of that user is killed (and waited for) after a
  failure and at the end. Its home and the shared temporary folders are one
  private tmpfs of ``disk_mb``; without a mount namespace, what its user
  left in the shared temporary folders is removed when it stops.
- As a normal user (a laptop), the user switch is skipped and logged: the
  worker is still a separate process with the same limits, in a network
  namespace when unprivileged user namespaces are allowed, but it can read
  and write whatever that user can. The grader becomes a child subreaper,
  so that a process that leaves the worker's session comes back to it and
  is killed when the worker stops.
"""

from __future__ import annotations

import ctypes
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

from . import numerics
from .errors import GraderError, ProbeTimeout, ProtocolError, WorkerDied
from .worker import protocol

log = logging.getLogger(__name__)

WORKER_PACKAGE = Path(__file__).resolve().parent / "worker"
SOLUTION_MARKER = b"# BEGIN SOLUTION"


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
    disk_mb: int = 256


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


# Folders any user may write to. As root, each worker sees them (and its
# home) as one private tmpfs of ``disk_mb``; without that, whatever the
# worker's user left in them is removed when the worker stops.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/dev/mqueue")

# Run as root inside the worker's new mount namespace, before the user
# switch: mounts one size-limited tmpfs on the worker's scratch folder and
# binds parts of it over the shared writable folders; the run folder (which
# may lie in one of them) is bound back at its own path. Arguments: the
# scratch folder, uid, gid, size in kB, the run folder, then the command.
PRIVATE_DIRS_SCRIPT = r"""
set -eu
space=$1 uid=$2 gid=$3 size=$4 run=$5
shift 5
mount -t tmpfs -o "size=${size}k,nr_inodes=16384,mode=755,nosuid,nodev" \
  dlag-space "$space"
mkdir -m 700 "$space/home"
chown "$uid:$gid" "$space/home"
outer="" inner=""
for dir in DIRS; do
  [ -d "$dir" ] && [ ! -L "$dir" ] || continue
  own="$space/$(printf %s "$dir" | tr / -)"
  mkdir -m 1777 "$own"
  case "$run" in
    "$dir"/*)
      mkdir -p "$own/${run#"$dir"/}"
      mount --bind "$run" "$own/${run#"$dir"/}"
      mount --bind "$space/home" "$own/${space#"$dir"/}"
      outer=$dir inner=$own
      ;;
    *) mount --bind "$own" "$dir" ;;
  esac
done
if [ -n "$outer" ]; then
  mount --rbind "$inner" "$outer"
else
  mount --bind "$space/home" "$space"
fi
cd "$space"
exec "$@"
""".replace("DIRS", " ".join(SHARED_WRITABLE))

PR_SET_CHILD_SUBREAPER = 36


class IsolationPlan:
    """How workers are started on this machine, decided once per run."""

    def __init__(self, account: pwd.struct_passwd | None):
        """``account`` is the worker's user (from ``accounts.worker_slot``),
        or None where no user switch is possible (not root)."""
        if account is None and os.geteuid() == 0:
            raise GraderError("running as root needs a worker account")
        self.account = account
        self.private_dirs = False
        if self.account is None:
            log.warning(
                "not running as root: the worker user switch is skipped; the "
                "worker runs as this user in a separate process"
            )
            unshare = ["unshare", "--user", "--map-root-user", "--net"]
            self.subreaper = _become_subreaper()
        else:
            unshare = ["unshare", "--net"]
            self.subreaper = False
        self.netns = _command_works(*unshare, "true")
        if not self.netns:
            log.warning(
                "network namespaces are unavailable: the worker keeps the network"
            )
            unshare = []
        elif _command_works(*unshare, "--ipc", "true"):
            unshare.append("--ipc")
        if self.netns and self.account is not None:
            self.private_dirs = _private_dirs_work()
            if self.private_dirs:
                _check_reachable(worker_python())
                unshare.append("--mount")
            else:
                log.warning(
                    "mount namespaces are unavailable: the worker writes to the "
                    "shared temporary folders, which are cleaned after it"
                )
        self.unshare = [*unshare, "--"] if unshare else []
        self.prefix = self.unshare + self._drop()
        # Whatever a killed run of the same slot left behind goes first.
        self.kill_everything()
        self.tidy()

    def command(
        self, run: Path, scratch: Path, limits: Limits, program: list[str]
    ) -> list[str]:
        """The command line that starts ``program`` as a worker of ``run``
        whose home is ``scratch``."""
        if not self.private_dirs:
            return [*self.prefix, *program]
        mounts = ["sh", "-c", PRIVATE_DIRS_SCRIPT, "sh", str(scratch)]
        mounts += [str(self.account.pw_uid), str(self.account.pw_gid)]
        mounts += [str(int(limits.disk_mb * 1024)), str(run)]
        return [*self.unshare, *mounts, *self._drop(), *program]

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
        """Kill every process of the worker's user; without a switch, every
        process that a worker left behind and that came back to the grader."""
        if self.account is None:
            if self.subreaper:
                _kill_orphans()
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
        _wait_until_gone(self.account.pw_uid)

    def tidy(self) -> None:
        """Remove what the worker's user left in the shared writable folders
        (as root, when the worker could not get private ones)."""
        if self.account is None or self.private_dirs:
            return
        for folder in SHARED_WRITABLE:
            _remove_owned_by(Path(folder), self.account.pw_uid)


def _check_reachable(python: str) -> None:
    """Refuse an interpreter that the worker's private temporary folders
    would hide from it."""
    for folder in SHARED_WRITABLE:
        if Path(python).is_relative_to(folder):
            raise GraderError(
                f"the Python environment of {python} lies under {folder}, which "
                "each worker sees as a private, empty folder: install it "
                "elsewhere (setup.sh takes DLAG_VENV)"
            )


def _private_dirs_work() -> bool:
    """Whether PRIVATE_DIRS_SCRIPT runs here (it needs mount namespaces)."""
    trial = Path(tempfile.mkdtemp(prefix="dlag-trial-"))
    try:
        (trial / "scratch").mkdir()
        return _command_works(
            *("unshare", "--mount", "--", "sh", "-c", PRIVATE_DIRS_SCRIPT, "sh"),
            *(str(trial / "scratch"), "0", "0", "1024", str(trial), "true"),
        )
    finally:
        shutil.rmtree(trial, ignore_errors=True)


def _remove_owned_by(folder: Path, uid: int) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.stat(follow_symlinks=False).st_uid != uid:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            log.info("removed %s, left by the worker", entry.path)
        except OSError as exc:
            log.warning("could not remove %s, left by the worker: %s", entry.path, exc)


def _processes_of(uid: int) -> list[int]:
    """The processes whose real user is ``uid`` and that have not exited."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as handle:
                status = dict(
                    line.split(b":", 1) for line in handle.read().splitlines()
                )
        except (OSError, ValueError):
            continue
        state = status.get(b"State", b"").split()[:1]
        real_uid = status.get(b"Uid", b"").split()[:1]
        if real_uid == [str(uid).encode()] and state not in ([b"Z"], [b"X"]):
            found.append(int(entry.name))
    return found


def _wait_until_gone(uid: int, seconds: float = 10.0) -> None:
    """Wait until the killed processes of ``uid`` have exited, so that none
    of them can touch a file after the kill returns."""
    deadline = time.monotonic() + seconds
    while _processes_of(uid):
        if time.monotonic() > deadline:
            log.error("processes of uid %d survived SIGKILL for %g s", uid, seconds)
            return
        time.sleep(0.02)


def _become_subreaper() -> bool:
    """Make orphaned descendants of the workers come back to this process,
    where ``_kill_orphans`` finds them (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        done = False
    if not done:
        log.warning(
            "cannot become a child subreaper: a process that a worker starts "
            "and leaves behind may outlive the run"
        )
    return done


# Workers of this process that are running; every other child is an orphan
# left by a worker (this process only starts workers and waits for the rest).
_RUNNING: set[int] = set()


def _children() -> list[int]:
    me = os.getpid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == me:
            found.append(int(entry.name))
    return found


def _kill_orphans(rounds: int = 200) -> None:
    """Kill and reap every child that is not a running worker; repeated,
    since the children of a killed orphan come back here in turn."""
    for _ in range(rounds):
        orphans = [pid for pid in _children() if pid not in _RUNNING]
        if not orphans:
            return
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in orphans:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    log.error("processes left by a worker kept coming back after %d rounds", rounds)


class RunDir:
    """The temporary tree of one grading run.

    ``runtime/`` holds a copy of the worker package, ``submission/`` a copy of
    the student's files and ``provided/`` the modules the grader supplies in
    place of the student's (both read-only for the worker); every worker gets
    a fresh, private ``scratch-N/`` as its home and working folder.
    """

    def __init__(self, submission: Path, provided: list[Path]):
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
            if SOLUTION_MARKER in Path(path).read_bytes():
                self.remove()
                raise GraderError(
                    f"{path} holds solution blocks, and the worker can read every "
                    "provided file: provide only handout files"
                )
            shutil.copy2(path, self.provided / path.name)
        for top in (self.runtime, self.submission, self.provided):
            _make_readable(top)
        self._scratch_count = 0

    def new_scratch(self, plan: IsolationPlan) -> Path:
        """A fresh home for one worker, owned by the user of ``plan``."""
        self._scratch_count += 1
        scratch = self.root / f"scratch-{self._scratch_count}"
        scratch.mkdir(mode=0o700)
        plan.own(scratch)
        return scratch

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def cpus_available(cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """The CPUs this process may use: its affinity, bounded by the CPU quota
    of its cgroup where one is set (a container given half a CPU has 0.5).
    Reads cgroup v2's ``cpu.max``, else v1's ``cpu.cfs_quota_us`` and
    ``cpu.cfs_period_us``, where a container sees its own."""
    count = float(len(os.sched_getaffinity(0)))
    sources = (["cpu.max"], ["cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us"])
    for names in sources:
        try:
            fields = [
                word
                for name in names
                for word in (cgroup / name).read_text(encoding="ascii").split()
            ]
            quota, period = fields[0], int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
        if quota not in ("max", "-1") and period > 0:
            count = min(count, int(quota) / period)
        break
    return count


def _make_readable(top: Path) -> None:
    for path in [top, *top.rglob("*")]:
        if path.is_symlink():
            path.unlink()
        elif path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o644)


class Worker:
    """One worker process and the pipes to it.

    A worker is launched (its process started) and then awaited (until it
    says it is ready, numpy and torch imported, no student code yet). The
    two steps can be apart: the runner launches the next part's worker, as
    another user, while the current part is graded.
    """

    def __init__(
        self, plan: IsolationPlan, rundir: RunDir, limits: Limits, threads: int
    ):
        self.plan = plan
        self.rundir = rundir
        self.limits = limits
        self.threads = threads
        self.process: subprocess.Popen | None = None
        self.scratch: Path | None = None
        self.output = OutputBuffer(limits.output_kb * 1024)
        self._ready = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def ready(self) -> bool:
        """Whether the worker has started, said so, and is still running."""
        return self._ready and self.alive

    def start(self) -> None:
        """Launch the worker unless it was launched, and wait until it is
        ready. A process that stopped since is replaced: one launched ahead
        may die before it was needed (another worker's student code can
        starve the machine of memory)."""
        if self.process is not None and not self.alive:
            if not self._ready:
                log.warning(
                    "a worker launched ahead stopped before it was used (return "
                    "code %s); launching another",
                    self.process.returncode,
                )
            self.stop()
        if self.process is None:
            self.launch()
        hello = self._receive(self.limits.startup_timeout, starting=True)
        if not hello.get("ready"):
            self.stop()
            raise GraderError(f"the worker did not start properly: {hello!r}")
        self.output.take()
        self._ready = True

    def launch(self) -> None:
        """Start the worker's process; ``start`` waits for it to be ready."""
        scratch = self.scratch = self.rundir.new_scratch(self.plan)
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
        program = [
            worker_python(),
            "-I",
            "-B",
            "-c",
            bootstrap,
            str(self.rundir.runtime),
            json.dumps(settings),
        ]
        command = self.plan.command(self.rundir.root, scratch, self.limits, program)
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
        env.update(numerics.worker_variables())
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
        _RUNNING.add(self.process.pid)
        log.debug("worker %s launched: %s", self.process.pid, " ".join(command[:-1]))

    def request(self, message: dict, timeout: float) -> Reply:
        """Send one probe and wait for its reply, the output and the time."""
        if not self.ready:
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
                    if starting:
                        raise GraderError(self._start_failure(code))
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
                        if starting:
                            raise GraderError(self._start_failure(code))
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
                        message = self._decode(bytes(body[:length]))
                        if not starting and not _is_reply(message):
                            self.stop()
                            raise ProtocolError(
                                "the worker's answer is not a reply of the protocol"
                            )
                        return message

    def _start_failure(self, code: int | None) -> str:
        printed = self.output.take().strip()[-2000:]
        text = f"the worker stopped while starting: {_death_text(code)}"
        return text + (f"; it printed:\n{printed}" if printed else "")

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

    def _drain_output(self, seconds: float = 1.0) -> None:
        """Collect what the worker printed before its reply, without waiting
        for more, and for at most ``seconds`` even if processes it left
        behind keep printing."""
        deadline = time.monotonic() + seconds
        os.set_blocking(self._out_r, False)
        try:
            while time.monotonic() < deadline:
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
        self._ready = False
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.error("worker %s survived SIGKILL for 10 s", self.process.pid)
        _RUNNING.discard(self.process.pid)
        self.plan.kill_everything()
        for fd in (self._req_w, self._resp_r, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None
        self.plan.tidy()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def worker_python() -> str:
    """The interpreter of this environment by a path the worker can reach.

    ``sys.executable`` may run through a link inside the grader's private
    tree (``.venv``); the resolved environment folder is outside it.
    """
    candidate = Path(os.path.realpath(sys.prefix)) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def _is_reply(message: dict) -> bool:
    """Whether a decoded message has the shape of a probe's reply."""
    if message.get("ok") is True:
        return "value" in message
    error = message.get("error")
    return (
        message.get("ok") is False
        and isinstance(error, dict)
        and all(isinstance(v, str) for v in error.values())
    )


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
