"""This process and this host, and files written atomically: shared by the writer, the
scale-out scheduler and anything else that must tell a live process from a dead one.

A process is named by its host and its pid *namespace* as well as its pid: containers can
share a hostname (host networking) but not pids, so a pid is only checked on the host and
namespace it belongs to.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

# This host's name, as a path- and key-safe token.
HOST = re.sub(r"[^0-9A-Za-z-]", "-", socket.gethostname())[:40] or "host"


def pid_namespace() -> int | None:
    """The inode of this process's pid namespace (Linux), or None."""
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None


PID_NAMESPACE = pid_namespace()
# Host and pid namespace, as temp file names carry them (a pid is checked only on its own).
HOST_AND_NAMESPACE = f"{HOST}-{PID_NAMESPACE}" if PID_NAMESPACE is not None else HOST
TMP_SUFFIX = ".tmp"


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs on this host (in this pid namespace); True when not ours to signal."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


_MADE_DIRS: set[str] = set()  # folders this process made or found: one mkdir each, not one per file
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


class _TempNames:
    """The tail of this process's temp file names: ``<pid>.<random><count>``.

    The pid and a random part are read once per process (again in a forked child), then a
    counter tells the files apart: no ``getpid`` and ``getrandom`` system calls per file (the
    writer writes one file per article). The name still carries the live pid that
    ``remove_stale_temp_files`` checks, and the random part keeps a later process that gets the
    same pid off a dead one's leftovers (O_EXCL refuses a clash; a fresh random part is drawn).
    """

    pid = 0
    random = ""
    count = 0

    @classmethod
    def reset(cls) -> None:
        cls.pid, cls.random, cls.count = os.getpid(), os.urandom(4).hex(), 0

    @classmethod
    def next(cls) -> str:
        cls.count += 1
        return f"{cls.pid}.{cls.random}{cls.count:x}"


_TempNames.reset()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_TempNames.reset)


def write_atomic(path: str | Path, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    The temporary file sits in the target's folder (a rename never crosses file systems)
    and is named ``.<name>.<host-pidns>@<pid>.<random>.tmp`` so a later run can tell an
    orphan from a live writer's file. Created with mode 0644 (less the umask). Works on
    the path as a string: the writer calls it once per article, and ``Path`` arithmetic
    cost more than the four system calls.
    """
    head, slash, name = os.fspath(path).rpartition("/")
    parent = head or slash or "."  # "/x": "/"; "x": the working directory
    if parent not in _MADE_DIRS:
        os.makedirs(parent, exist_ok=True)
        _MADE_DIRS.add(parent)
    tmp = f"{head}{slash}.{name}.{HOST_AND_NAMESPACE}@{_TempNames.next()}{TMP_SUFFIX}"
    # One cleanup for everything from the open on: a signal handler that raises (SIGTERM, Ctrl-C)
    # runs right after the system call it interrupted, often the open itself, before any line
    # after it; the temp file is removed by name (a name never opened is simply not there).
    try:
        try:
            fd = os.open(tmp, _CREATE, 0o644)
        except FileNotFoundError:  # the folder went away during the run
            _MADE_DIRS.discard(parent)
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, _CREATE, 0o644)
        except FileExistsError:  # a dead process of the same pid left this very name: another random part
            _TempNames.reset()
            tmp = f"{head}{slash}.{name}.{HOST_AND_NAMESPACE}@{_TempNames.next()}{TMP_SUFFIX}"
            fd = os.open(tmp, _CREATE, 0o644)
        try:
            written = os.write(fd, data)
            if written < len(data):  # a short write (a full disk, a signal): the rest, piece by piece
                view = memoryview(data)[written:]
                while view:
                    view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:  # not there (never opened), or the folder refuses it too: the first error is the one to say
            pass
        raise
