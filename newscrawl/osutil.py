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
from collections.abc import Callable
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


def _write_all(fd: int, data: bytes, fsync: bool) -> None:
    """``data`` into ``fd`` whole (a short write: a full disk, a signal), then fsync if asked."""
    written = os.write(fd, data)
    if written < len(data):  # a short write: the rest, piece by piece
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]
    if fsync:
        os.fsync(fd)


def write_atomic(path: str | Path, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    The temporary file sits in the target's folder (a rename never crosses file systems)
    and is named ``.<name>.<host-pidns>@<pid>.<random>.tmp`` so a later run can tell an
    orphan from a live writer's file. Created with mode 0644 (less the umask). Works on
    the path as a string: the writer calls it once per article, and ``Path`` arithmetic
    cost more than the four system calls. (The writer's common case goes through
    :class:`Folder`, the same steps relative to an open folder.)
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
            _write_all(fd, data, fsync)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:  # not there (never opened), or the folder refuses it too: the first error is the one to say
            pass
        raise


# Whether open, rename and unlink take a folder descriptor (openat, renameat, unlinkat: POSIX;
# os.replace is renameat too, though os.supports_dir_fd lists only os.rename).
DIR_FD = {os.open, os.rename, os.unlink} <= os.supports_dir_fd
# A folder descriptor for the *at system calls only (O_PATH: no read permission needed, Linux).
_FOLDER = getattr(os, "O_PATH", os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC


class Folder:
    """A folder that files are written into atomically, by name, relative to its open descriptor.

    ``Folder(p).write(name, data)`` does what ``write_atomic(p + "/" + name, data)`` does (the same
    temp name, mode, short-write loop, fsync, cleanup on any exception, another random part on a
    clash, the folder made again when it went away during the run), with the open, rename and
    cleanup made relative to the folder (openat, renameat, unlinkat): the kernel does not walk
    the folder's path again for each, and Python converts a short name, not the whole path.
    The writer writes every article of a (language, source) into one folder: about 2-3 µs of
    the ~20 µs an atomic write costs on tmpfs.

    The descriptor names the folder it was opened on: a folder removed during the run is made
    again at its path (a removed folder refuses new files: ENOENT), but one *moved* during the
    run keeps receiving the files at its new place, as a folder replaced by a symlink keeps its
    own files (never written through the link). The descriptor is closed with the object.
    """

    __slots__ = ("path", "fd")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def open(self) -> int:
        """Make the folder if it is missing and (re)open its descriptor."""
        os.makedirs(self.path, exist_ok=True)
        fd = os.open(self.path, _FOLDER)
        self.close()
        self.fd = fd
        return fd

    def close(self, _close: Callable[[int], None] = os.close) -> None:  # bound: __del__ may run at exit
        fd, self.fd = self.fd, -1
        if fd >= 0:
            _close(fd)

    def __del__(self) -> None:
        self.close()

    def read(self, name: str) -> bytes | None:
        """The bytes of the file ``name`` in this folder, or None when there is none (or no folder)."""
        try:  # os.open first: a missing file (the common case) costs one failed system call
            if self.fd >= 0:
                fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=self.fd)
            else:
                fd = os.open(f"{self.path}/{name}", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        with open(fd, "rb") as handle:
            return handle.read()

    def write(self, name: str, data: bytes, fsync: bool = False) -> None:
        """Write ``data`` to the file ``name`` in this folder through a temp file and an atomic rename."""
        dir_fd = self.fd if self.fd >= 0 else self.open()
        tmp = f".{name}.{HOST_AND_NAMESPACE}@{_TempNames.next()}{TMP_SUFFIX}"
        try:  # one cleanup for everything from the open on, as in write_atomic
            try:
                fd = os.open(tmp, _CREATE, 0o644, dir_fd=dir_fd)
            except FileNotFoundError:  # the folder went away during the run: made again at its path
                dir_fd = self.open()
                fd = os.open(tmp, _CREATE, 0o644, dir_fd=dir_fd)
            except FileExistsError:  # a dead process of the same pid left this very name: another random part
                _TempNames.reset()
                tmp = f".{name}.{HOST_AND_NAMESPACE}@{_TempNames.next()}{TMP_SUFFIX}"
                fd = os.open(tmp, _CREATE, 0o644, dir_fd=dir_fd)
            try:
                _write_all(fd, data, fsync)
            finally:
                os.close(fd)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dir_fd)
            except OSError:  # not there (never opened), or the folder refuses it too: the first error is the one to say
                pass
            raise
