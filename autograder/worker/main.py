"""The worker: the only process that imports and runs student code.

Started by the grader's sandbox with one JSON argument (its settings), it
limits itself (memory, processes, file size, open files), imports numpy and
torch, and then answers framed requests read from one pipe on another. Each
request names a probe (see ``probes``); the reply carries the value or the
student's exception, as plain data. The worker's stdout and stderr are a
pipe the grader reads and bounds; nothing the student prints can reach the
reply channel except by writing to its file descriptor, and what arrives
there is only ever decoded as plain data and compared by the grader.

This package is copied into the sandbox and runs there on its own: it must
import nothing from the rest of ``autograder``.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys
import time
import traceback

from . import protocol

MB = 1024 * 1024


def _limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def apply_limits(limits: dict) -> None:
    """Lower this process's resource limits; they can never be raised again."""
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, int(limits["file_size_mb"] * MB))
    _limit(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    if os.geteuid() != 0:
        # The kernel ignores RLIMIT_NPROC for root; it counts every process of
        # the worker's user, so the user switch is what makes it a real bound.
        _limit(resource.RLIMIT_NPROC, int(limits["processes"]))
    _limit(resource.RLIMIT_AS, int(limits["memory_mb"] * MB))
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass


def _read_exact(fd: int, count: int) -> bytes:
    chunks = []
    while count:
        chunk = os.read(fd, count)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def read_request(fd: int) -> dict:
    (length,) = protocol.HEADER.unpack(_read_exact(fd, protocol.HEADER.size))
    return protocol.loads(_read_exact(fd, length))


def send(fd: int, message: dict) -> None:
    data = protocol.dumps(message)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def reset_state(seed: int, threads: int) -> None:
    """Fix every random source and the thread count before a probe."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


def describe_exception(exc: BaseException, submission: str) -> dict:
    """The student's exception as plain data, pointing at the student's line."""
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith(submission):
            name = os.path.relpath(frame.filename, submission)
            where = f"{name}, line {frame.lineno}, in {frame.name}"
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{os.path.basename(exc.filename)}, line {exc.lineno}"
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:2000],
        "where": where,
    }


def serve(settings: dict) -> None:
    from . import probes

    req_fd, resp_fd = settings["req_fd"], settings["resp_fd"]
    submission = settings["submission"]
    context = probes.Context(submission=submission, settings=settings)
    send(resp_fd, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            request = read_request(req_fd)
        except EOFError:
            return
        reset_state(int(request.get("seed", 0)), int(settings["threads"]))
        start = time.perf_counter()
        try:
            value = probes.run(context, request["probe"], request.get("args", {}))
            reply = {"ok": True, "value": value}
        except probes.ProbeRefused as exc:
            reply = {"ok": False, "error": exc.as_dict()}
        except BaseException as exc:  # noqa: BLE001 - student code may raise anything
            if isinstance(exc, KeyboardInterrupt):
                raise
            reply = {"ok": False, "error": describe_exception(exc, submission)}
        reply["duration"] = time.perf_counter() - start
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            send(resp_fd, reply)
        except (TypeError, ValueError) as exc:
            send(resp_fd, {"ok": False, "error": describe_exception(exc, "")})


def main() -> None:
    settings = json.loads(sys.argv[1])
    apply_limits(settings["limits"])
    sys.path[:0] = [p for p in (settings.get("provided"), settings["submission"]) if p]
    import numpy  # noqa: F401 - imported once, before any student code
    import torch

    torch.set_num_threads(int(settings["threads"]))
    serve(settings)
    sys.stdout.flush()
    os._exit(0)
