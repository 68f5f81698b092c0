"""Page -> Article -> Markdown file text, without Scrapy's engine (the crawl's middle layer).

``article`` (the data model), ``htmlblocks`` (the shared HTML walker), ``markdown``,
``frontmatter`` and ``document`` (the file text), ``text``, ``dates`` and ``images``
(normalization rules), ``converter`` (the ``Converter`` that runs them for a page).
"""
