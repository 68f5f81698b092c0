"""newscrawl: news articles to Hugo Markdown, with Scrapy; each site a plug-in (newscrawl.sites)."""

__version__ = "0.1.0"
