"""newscrawl: news articles to Hugo Markdown, with Scrapy; each site a plug-in (newscrawl.sites).

Grouped by layer, in the order of the data flow: ``convert`` (page -> Article -> file text),
``crawl`` (the Scrapy spider, pipelines, writer and commands), ``archive`` (WARC capture and
replay, downloaded images, the manifest), ``scaleout`` (several workers on Redis).
"""

__version__ = "0.1.0"
