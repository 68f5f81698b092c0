"""The WARC archive's former single module, kept as the names other code and old settings use.

Capture and replay live in :mod:`newscrawl.archive` (one module per job); this module
re-exports their public names, so ``newscrawl.warc.WarcCaptureMiddleware`` in an older
project's DOWNLOADER_MIDDLEWARES still works.
"""

from __future__ import annotations

from newscrawl.archive.capture import RECORDED_SETTINGS, REPLAYED_SETTINGS, WarcCaptureMiddleware, capture_info
from newscrawl.archive.files import WARC_SUFFIXES, WarcFileWriter, finish_orphans, warc_files
from newscrawl.archive.index import Capture, ReplayIndex, Stored, first_capture, load_response, request_key
from newscrawl.archive.read import OPEN_SUFFIX, complete_length
from newscrawl.archive.records import WARC_VERSION, exchange_records, request_head, response_head, warcinfo_record
from newscrawl.archive.replay import NotArchived, OfflineDownloadHandler, WarcReplayMiddleware, prepare_replay

__all__ = [
    "OPEN_SUFFIX",
    "RECORDED_SETTINGS",
    "REPLAYED_SETTINGS",
    "WARC_SUFFIXES",
    "WARC_VERSION",
    "Capture",
    "NotArchived",
    "OfflineDownloadHandler",
    "ReplayIndex",
    "Stored",
    "WarcCaptureMiddleware",
    "WarcFileWriter",
    "WarcReplayMiddleware",
    "capture_info",
    "complete_length",
    "exchange_records",
    "finish_orphans",
    "first_capture",
    "load_response",
    "prepare_replay",
    "request_head",
    "request_key",
    "response_head",
    "warc_files",
    "warcinfo_record",
]
