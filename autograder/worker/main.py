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
    # RLIMIT_NPROC counts every process of the worker's user (of the user
    # namespace's root without a switch); only the real root is exempt.
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
    write_all(fd, protocol.dumps(message))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _flush() -> None:
    """Flush what the student printed; a replaced or closed stream is the
    student's loss, not a reason to drop the reply."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the student may have replaced it
            pass


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
    try:
        text = str(exc)[:2000]
    except BaseException:  # noqa: BLE001 - a student's __str__ may raise anything
        text = "(its message could not be read)"
    return {
        "type": str(type(exc).__name__)[:100],
        "message": text,
        "where": where,
    }


def encoded_reply(reply: dict, label: str, answer_mb: float) -> bytes:
    """The framed bytes of ``reply``, or of a refusal when its value cannot
    be encoded as plain data or would exceed the grader's ``answer_mb``."""
    try:
        data = protocol.dumps(reply)
    except MemoryError:
        why = "it is too large to encode within the worker's memory limit"
    except BaseException as exc:  # noqa: BLE001 - student objects may raise anything
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = describe_exception(exc, "")
        why = f"encoding it raised {error['type']}: {error['message']}"
    else:
        size = len(data) - protocol.HEADER.size
        if size <= answer_mb * MB:
            return data
        del data
        why = f"it is {size / MB:.0f} MB once encoded; at most {answer_mb:g} MB is read"
    refusal = {
        "type": "ProbeRefused",
        "kind": "unsendable",
        "message": f"{label} returned a value that could not be sent back: {why}",
    }
    return protocol.dumps({"ok": False, "error": refusal, "duration": 0.0})


def serve(settings: dict) -> None:
    from . import probes

    req_fd, resp_fd = settings["req_fd"], settings["resp_fd"]
    submission = settings["submission"]
    answer_mb = float(settings["limits"]["answer_mb"])
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
        _flush()
        label = str(request.get("args", {}).get("function") or request["probe"])
        write_all(resp_fd, encoded_reply(reply, label, answer_mb))


def main() -> None:
    settings = json.loads(sys.argv[1])
    apply_limits(settings["limits"])
    # numpy, torch and the probes are imported before the student's folder
    # joins the path, so a stray torch.py or numpy.py among the student's
    # files cannot stand in for them (it only shadows them for the student).
    import numpy  # noqa: F401 - imported once, before any student code
    import torch

    from . import probes

    probes.load_all()
    sys.path[:0] = [p for p in (settings.get("provided"), settings["submission"]) if p]
    torch.set_num_threads(int(settings["threads"]))
    serve(settings)
    sys.stdout.flush()
    os._exit(0)
