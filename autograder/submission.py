"""Reading a submission: a folder or a .zip, copied into a safe folder.

Only regular files are taken. Symbolic links are left out (a link could point
into the grader's files), and so are zip entries that would land outside the
folder or cannot be unpacked (encrypted, corrupt, an unknown compression),
each with a note; the rest is graded as usual. Sizes are bounded. When the
student's files sit one folder deep (a zipped folder), that folder is used.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from .errors import SubmissionError

MAX_FILES = 200
MAX_BYTES = 50 * 1024 * 1024


def _copy_folder(source: Path, target: Path, notes: list[str]) -> None:
    count = 0
    total = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part in ("__pycache__", ".git") for part in relative.parts):
            continue
        if path.is_symlink():
            notes.append(f"{relative} is a symbolic link and was ignored")
            continue
        if path.is_dir():
            continue
        if not path.is_file():
            continue
        count += 1
        total += path.stat().st_size
        if count > MAX_FILES or total > MAX_BYTES:
            raise SubmissionError(
                f"the submission is too large: at most {MAX_FILES} files and "
                f"{MAX_BYTES // 2**20} MB are read"
            )
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def _extract_zip(archive: Path, target: Path, notes: list[str]) -> None:
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            if len(members) > MAX_FILES:
                raise SubmissionError(
                    f"{archive.name} holds {len(members)} entries; at most "
                    f"{MAX_FILES} are read"
                )
            if sum(m.file_size for m in members) > MAX_BYTES:
                raise SubmissionError(
                    f"{archive.name} unpacks to more than {MAX_BYTES // 2**20} MB"
                )
            for member in members:
                name = PurePosixPath(member.filename)
                if name.is_absolute() or ".." in name.parts:
                    notes.append(
                        f"{archive.name} contains the path {member.filename!r}, "
                        "which points outside the submission folder; it was ignored"
                    )
                    continue
                mode = member.external_attr >> 16
                if stat.S_ISLNK(mode):
                    notes.append(
                        f"{member.filename} is a symbolic link and was ignored"
                    )
                    continue
                if member.is_dir():
                    continue
                _extract(bundle, member, target.joinpath(*name.parts), notes)
    except zipfile.BadZipFile as exc:
        raise SubmissionError(
            f"{archive.name} is not a valid zip file: {exc}"
        ) from None


def _extract(
    bundle: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    destination: Path,
    notes: list[str],
) -> None:
    """Unpack one entry; one that cannot be unpacked is noted and left out."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with bundle.open(member) as source, open(destination, "wb") as sink:
            shutil.copyfileobj(source, sink)
    except (
        zipfile.BadZipFile,
        RuntimeError,  # encrypted
        NotImplementedError,  # an unknown compression method
        zlib.error,
        EOFError,
        OSError,
    ) as exc:
        if destination.is_file():
            destination.unlink()
        notes.append(f"{member.filename} could not be unpacked and was ignored ({exc})")


def _student_root(folder: Path, expected: list[str]) -> Path:
    """The folder that holds the student's files, one level down at most."""
    if any((folder / name).is_file() for name in expected):
        return folder
    children = [p for p in folder.iterdir() if p.is_dir() and p.name != "__MACOSX"]
    for child in children:
        if any((child / name).is_file() for name in expected):
            return child
    return folder


@contextmanager
def prepared(source: Path, expected: list[str]) -> Iterator[tuple[Path, list[str]]]:
    """Yield a private copy of the submission and notes about what was left out."""
    source = Path(source)
    notes: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="dlag-submission-"))
    try:
        if source.is_dir():
            _copy_folder(source, workdir, notes)
        elif source.is_file() and source.suffix == ".zip":
            _extract_zip(source, workdir, notes)
        elif source.exists():
            raise SubmissionError(f"{source} is neither a folder nor a .zip file")
        else:
            raise SubmissionError(f"{source} does not exist")
        yield _student_root(workdir, expected), notes
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def listing(folder: Path) -> str:
    """The files of a submission, for messages about a missing one."""
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    return ", ".join(names[:20]) or "no files"
