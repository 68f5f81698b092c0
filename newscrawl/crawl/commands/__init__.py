"""Project commands (Scrapy's COMMANDS_MODULE)."""
