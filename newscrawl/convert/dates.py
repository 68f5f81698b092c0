"""Publish-time parsing: every format news pages and feeds use, naive times in the site's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import parser as dateutil_parser

from newscrawl.convert.htmlblocks import COMPILED

UTC_ZONE = ZoneInfo("UTC")

# "2025-02-08 20:06:09", "2019-9-7 21:30:50", "2019-09-23 07:48", "2026-10-04", "2025/02/08 ..."
# "2016年10月14日07:17" (legacy CMS pages: no space after 日). Possessive separators: a
# long run of spaces is never re-split between them.
_YMD = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})(?:日[ T]*+|[ T]++)?+"
    r"(?:(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?)?\s*+"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
# Longer values are not a publish time (and are kept away from dateutil's parser).
_MAX_LENGTH = 64
_EPOCH = re.compile(r"^\d{9,13}(?:\.\d+)?$")
# The form nearly every page writes, "2025-02-08 20:06:09" in ASCII digits: _YMD's groups
# exactly, without the epoch test, the stripping and _YMD's optional parts tried first.
_COMMON = re.compile(r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)", re.ASCII)


def parse_datetime(value: str | int | float | None, tz: ZoneInfo = UTC_ZONE) -> datetime | None:
    """Parse a publish time; naive times are taken as ``tz`` (the site's ``Site.timezone``).

    Accepts the ``YYYY-MM-DD HH:MM:SS`` family (also unpadded and without seconds), the
    ``apub:time`` meta form ``12/1/2020, 10:46:16 AM``, epoch seconds or milliseconds
    (feeds), and ISO 8601 with an offset. Returns None when nothing sensible parses.
    """
    if value.__class__ is str and len(value) == 19:
        match = _COMMON.fullmatch(value)
        if match:
            y, mo, d, h, mi, s = match.groups()
            try:
                return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)
            except ValueError:
                return None
    return parse_datetime_general(value, tz)


def parse_datetime_general(value: str | int | float | None, tz: ZoneInfo = UTC_ZONE) -> datetime | None:
    """``parse_datetime`` without its shortcut for the common form (the tests compare both)."""
    try:
        return _parse_general(value, tz)
    except (ValueError, OverflowError, OSError):
        # A page's value, so untrusted: an offset beyond 24 hours ("+9999"), a time that the
        # zone change moves out of datetime's range (year 1 at +14:00), an epoch the platform
        # cannot convert. None: the next source of the publish time is used.
        return None


def _parse_general(value: str | int | float | None, tz: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) or _EPOCH.match(str(value).strip()):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC).astimezone(tz)
    text = str(value).strip()
    if len(text) > _MAX_LENGTH:
        return None
    match = _YMD.match(text)
    if match:
        y, mo, d, h, mi, s, off = match.groups()
        try:
            dt = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0))
        except ValueError:
            return None
        if off:
            return _with_offset(dt, off).astimezone(tz)
        return dt.replace(tzinfo=tz)
    try:
        dt = dateutil_parser.parse(text)
    except (ValueError, OverflowError):
        return None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=tz)
    return dt.astimezone(tz)


def _with_offset(dt: datetime, off: str) -> datetime:
    if off == "Z":
        return dt.replace(tzinfo=UTC)
    sign = 1 if off[0] == "+" else -1
    digits = off[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return dt.replace(tzinfo=timezone(sign * delta))


def format_date(dt: datetime, style: str = "rfc3339") -> str:
    """``rfc3339`` (``2025-02-08T20:06:09+08:00``) or ``legacy`` (``2025-02-08 20:06:09``)."""
    if style == "legacy":
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    if _rfc3339 is not None:
        text = _rfc3339(dt)
        if text is not None:
            return text
    return dt.isoformat() if not dt.microsecond else dt.replace(microsecond=0).isoformat()  # no copy when whole


def python_format_date(dt: datetime, style: str = "rfc3339") -> str:
    """``format_date`` without the compiled module (the reference the tests compare with)."""
    if style == "legacy":
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    return dt.isoformat() if not dt.microsecond else dt.replace(microsecond=0).isoformat()


# ``_cwalk.rfc3339`` (the digits written into a buffer, not through ``isoformat``'s format strings)
# when the compiled module runs, else None.
_rfc3339 = getattr(COMPILED, "rfc3339", None)
