"""Scrapy's downloader, with a cheaper walk through the downloader middlewares.

Scrapy 2.19's ``DownloaderMiddlewareManager`` runs every ``process_request`` and
``process_response`` of every enabled downloader middleware (ten and six of them in a newscrawl
crawl) through the same generic steps, for each request: a look-up of whether the method wants
a ``spider`` argument, the method's import name rebuilt as a string (only used in a deprecation
warning for a method that returns a Deferred), Scrapy's spider-argument deprecation wrapper
around most of its own middlewares' methods (which only warns when a ``spider`` argument is
passed: the manager never passes one to such a method), and a coroutine built and awaited
around a plain return value. That is ~16 method calls per article, each paying more in this
plumbing than most methods' own work.

:class:`Downloader` is Scrapy's downloader whose middleware manager (still Scrapy's class,
built by Scrapy from the same settings) walks the same methods in the same order with the
per-method facts worked out once: the name, whether it wants the spider, the method behind
Scrapy's deprecation wrapper (only for a method the manager never passes a spider), and a
return value awaited only when it is awaitable (a coroutine or a Deferred, which goes through
Scrapy's own ``ensure_awaitable``, warning as Scrapy does). Same calls, same order, same
results, same errors for an invalid return value; the exception path (``process_exception``)
is Scrapy's own.
"""

from __future__ import annotations

from types import CodeType
from typing import TYPE_CHECKING, Any

from scrapy.core.downloader import Downloader as ScrapyDownloader
from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.exceptions import _InvalidOutput
from scrapy.http import Request, Response
from scrapy.utils.decorators import _warn_spider_arg
from scrapy.utils.defer import ensure_awaitable
from scrapy.utils.python import global_object_name

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from scrapy.crawler import Crawler

_RESULT = (Response, Request)


def _spider_arg_wrapper_code() -> CodeType:
    """The code of Scrapy's spider-argument wrapper of a plain method (one for every wrapper)."""

    def method(self: Any, request: Any, spider: Any = None) -> None:
        return None

    return _warn_spider_arg(method).__code__


_SPIDER_ARG_WRAPPER = _spider_arg_wrapper_code()


def _unwrapped(method: Callable[..., Any]) -> Callable[..., Any]:
    """The method behind Scrapy's spider-argument wrapper (it warns only if given a spider)."""
    func = getattr(method, "__func__", None)
    inner = getattr(func, "__wrapped__", None)
    # functools.wraps copies the name: the wrapper is known by its code.
    if inner is None or getattr(func, "__code__", None) is not _SPIDER_ARG_WRAPPER:
        return method
    return inner.__get__(method.__self__)


class LeanMiddlewareManager(DownloaderMiddlewareManager):
    """Scrapy's downloader middleware manager, each method's facts worked out once."""

    _steps: dict[str, list[tuple[Callable[..., Any], str, bool]]]

    @classmethod
    def adopt(cls, manager: DownloaderMiddlewareManager) -> LeanMiddlewareManager:
        """Scrapy's built manager (its middlewares built once, by Scrapy), walked by this class."""
        # The subclass adds no state but the per-method facts, so the built object changes class.
        manager.__class__ = cls
        assert isinstance(manager, cls)
        manager._prepare()
        return manager

    def _prepare(self) -> None:
        """Each method with its import name and whether it takes the spider, in chain order."""
        self._steps = {}
        for name in ("process_request", "process_response"):
            steps = []
            for method in self.methods[name]:
                assert method is not None
                wants_spider = method in self._mw_methods_requiring_spider
                call = method if wants_spider else _unwrapped(method)
                steps.append((call, global_object_name(method), wants_spider))
            self._steps[name] = steps

    async def _process_request(
        self,
        request: Request,
        download_func: Callable[[Request], Coroutine[Any, Any, Response]],
    ) -> Response | Request:
        for method, name, wants_spider in self._steps["process_request"]:
            response = method(request=request, spider=self._spider) if wants_spider else method(request=request)
            if response is not None and not isinstance(response, _RESULT):
                # A coroutine or Deferred (Scrapy warns about the latter); anything else is checked below.
                response = await ensure_awaitable(response, _warn=name)
                if response is not None and not isinstance(response, _RESULT):
                    raise _InvalidOutput(
                        f"Middleware {method.__qualname__} must return None, Response or "
                        f"Request, got {response.__class__.__name__}"
                    )
            if response:
                return response
        return await download_func(request)

    async def _process_response(self, response: Response | Request, request: Request) -> Response | Request:
        if response is None:
            raise TypeError("Received None in process_response")
        if isinstance(response, Request):
            return response
        for method, name, wants_spider in self._steps["process_response"]:
            if wants_spider:
                response = method(request=request, response=response, spider=self._spider)
            else:
                response = method(request=request, response=response)
            if not isinstance(response, _RESULT):
                response = await ensure_awaitable(response, _warn=name)
                if not isinstance(response, _RESULT):
                    raise _InvalidOutput(
                        f"Middleware {method.__qualname__} must return Response or Request, got {type(response)}"
                    )
            if isinstance(response, Request):
                return response
        return response


class Downloader(ScrapyDownloader):
    """Scrapy's downloader whose middleware manager walks the chain with :class:`LeanMiddlewareManager`."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.middleware = LeanMiddlewareManager.adopt(self.middleware)
