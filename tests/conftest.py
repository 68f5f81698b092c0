"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest

from newscrawl.convert import htmlblocks


@pytest.fixture
def compiled():
    """The compiled module (``newscrawl.convert._cwalk``) this process uses; skips without one."""
    if htmlblocks.COMPILED is None:
        pytest.skip("no compiled module in this process")
    return htmlblocks.COMPILED
