"""newscrawl: Tencent news articles to Hugo Markdown, with Scrapy."""

__version__ = "0.1.0"
