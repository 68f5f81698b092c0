"""The WARC reader's two inflaters: zlib-ng (a dependency, ~1.6x faster) and the standard zlib it
falls back to when ``zlib_ng`` cannot be imported. Both must read every member, name every damaged
one and rebuild every archive exactly alike: same spans, same reasons (error messages), same files."""

from __future__ import annotations

import importlib
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from newscrawl.archive import gzipview
from newscrawl.archive.read import Damage, Member, iter_members
from tests.crawlrun import REPO, folder_files
from tests.test_rebuild import damage_lines, summary
from tests.test_warc_failures import gzip_members, small_warc

zlib_ng = pytest.importorskip("zlib_ng.zlib_ng")
SAMPLE = REPO / "samples" / "qq-sample.warc.gz"
# The rebuild command with zlib_ng made unimportable first: the core install's fallback, for real.
STDLIB_REBUILD = (
    "import sys, zlib; sys.modules['zlib_ng'] = None\n"
    "from newscrawl.archive import gzipview\n"
    "assert gzipview._zlib is zlib, gzipview._zlib\n"
    "from newscrawl.archive.rebuild import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


@contextmanager
def standard_zlib() -> Iterator[None]:
    """The reader as installed without zlib-ng: ``gzipview`` imported again with ``zlib_ng`` unimportable."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "zlib_ng", None)
        importlib.reload(gzipview)
        try:
            assert gzipview._zlib is zlib
            yield
        finally:
            patch.undo()
            importlib.reload(gzipview)
    assert gzipview._zlib is zlib_ng


def read_all(data: bytes) -> list[tuple]:
    """Every member (span, inflated bytes) and damage (span, reason, record, to_end) of a .warc.gz."""
    from io import BytesIO

    out: list[tuple] = []
    for item in iter_members(BytesIO(data)):
        if isinstance(item, Member):
            out.append(("member", item.start, item.end, item.data))
        else:
            assert isinstance(item, Damage)
            out.append(("damage", item.start, item.end, item.reason, item.record, item.to_end))
    return out


def flipped_copies(data: bytes) -> Iterator[bytes]:
    """``data`` with one bit flipped at every byte of its second response's member (header, deflate
    data, trailer), and a copy cut inside it."""
    start, end, _ = gzip_members(data)[3]
    for pos in range(start, end):
        for bit in (0x01, 0x80):
            copy = bytearray(data)
            copy[pos] ^= bit
            yield bytes(copy)
    yield data[: (start + end) // 2]


def test_both_inflaters_read_every_flipped_byte_alike():
    data = small_warc()
    copies = [data, *flipped_copies(data)]
    with_ng = [read_all(copy) for copy in copies]
    with standard_zlib():
        assert type(gzipview.inflater_for_gzip()) is type(zlib.decompressobj())
        with_stdlib = [read_all(copy) for copy in copies]
    for n, (ours, theirs) in enumerate(zip(with_ng, with_stdlib, strict=True)):
        assert ours == theirs, n
    # Damage was met, for several reasons (zlib's errors by their messages, CRC, length, cut short).
    reasons = {item[3] for read in with_stdlib for item in read if item[0] == "damage"}
    assert len(reasons) > 3, reasons


def run_rebuild_with(zlib_module: str, output: Path, warc: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "newscrawl.archive.rebuild"]
    if zlib_module == "zlib":
        command = [sys.executable, "-c", STDLIB_REBUILD]
    command += [str(warc), "--output", str(output), "-s", f"STATE_FILE={output}-gone.jsonl", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.e2e
def test_rebuild_with_the_standard_zlib_writes_and_reports_the_same(tmp_path):
    """A sample archive with one article's member damaged, rebuilt with zlib-ng and with the standard
    zlib (each article's body kept from the index pass, or inflated again from the file): the same
    files, summary line, exit status and damage line."""
    warc = tmp_path / "warc" / "damaged.warc.gz"
    warc.parent.mkdir()
    data = bytearray(SAMPLE.read_bytes())
    members = gzip_members(bytes(data))
    victim = next(m for m in members[len(members) // 2 :] if b"WARC-Type: response" in m[2][:2000])
    data[(victim[0] + victim[1]) // 2] ^= 0xFF
    warc.write_bytes(bytes(data))
    runs = {
        (module, keep): run_rebuild_with(module, tmp_path / f"{module}-{keep}", warc, "-s", f"REBUILD_KEEP_MB={keep}")
        for module in ("zlib_ng", "zlib")
        for keep in (256, 0)
    }
    reference = runs["zlib_ng", 256]
    assert reference.returncode == 7, reference.stderr[-3000:]  # the damaged record
    expected = folder_files(tmp_path / "zlib_ng-256")
    assert expected and len(damage_lines(reference.stderr)) == 1
    for (module, keep), rebuilt in runs.items():
        assert rebuilt.returncode == 7, (module, keep, rebuilt.stderr[-3000:])
        assert folder_files(tmp_path / f"{module}-{keep}") == expected, (module, keep)
        assert summary(rebuilt.stderr) == summary(reference.stderr), (module, keep)
        assert damage_lines(rebuilt.stderr) == damage_lines(reference.stderr), (module, keep)
        # The slower fallback is said once, and only when it runs.
        said = rebuilt.stderr.count("zlib-ng is not installed")
        assert said == (1 if module == "zlib" else 0), (module, keep, rebuilt.stderr[-3000:])


def test_the_compiled_inflate_loop_reads_every_member_as_the_python_one(monkeypatch):
    """``_cwalk.inflate_member`` (the reader's inflate loop, compiled) answers for whole members only,
    and with the reference's bytes and end: every member and every damage (span, reason, record)
    of every one-bit flip of a response member is the same with it as with ``read.python_inflate``
    alone, also with members read in many small steps (joined) and across the file window's edges."""
    from newscrawl.archive import read

    if read._compiled_inflate is None:
        pytest.skip("the compiled module is not built (or NEWSCRAWL_PURE_PYTHON is set)")
    compiled = read._compiled_inflate
    answered = []

    def counted(*args):
        done = compiled(*args)
        answered.append(done is not None)
        return done

    data = small_warc()
    copies = [data, *flipped_copies(data)]
    usual = read.FIRST
    for first, block in ((usual, gzipview.BLOCK), (64, 700)):
        monkeypatch.setattr(read, "FIRST", first)
        monkeypatch.setattr(gzipview, "BLOCK", block)
        some = copies if first == usual else copies[::5]
        monkeypatch.setattr(read, "_compiled_inflate", counted)
        with_compiled = [read_all(copy) for copy in some]
        monkeypatch.setattr(read, "_compiled_inflate", None)
        reference = [read_all(copy) for copy in some]
        for n, (ours, theirs) in enumerate(zip(with_compiled, reference, strict=True)):
            assert ours == theirs, (first, block, n)
    assert any(answered) and not all(answered)  # whole members answered, damaged ones left to the reference
