"""The Scrapy crawl: the generic spider, item pipelines, writer, state, extensions, commands.

``spider`` (one generic article spider and its loader), ``pipelines`` (Scrapy wrappers of
the normalization steps), ``writer`` (the one pipeline that touches the disk), ``state``
(gone articles), ``extensions`` (progress, summary, verdict), ``commands`` (``crawl`` with
exit statuses), ``fingerprint``, ``preflight``, ``robots`` and ``jobdir``.
"""
