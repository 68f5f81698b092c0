"""Scrapy settings for newscrawl. Every project setting has a default and a line of why.

Override any of them per run with ``scrapy crawl <site> -s NAME=value``. A site's own
settings (and their comments) are in its folder: ``newscrawl/sites/<site>/settings.py``.
"""

# The name Scrapy logs and puts in its default User-Agent (ours is overridden below).
BOT_NAME = "newscrawl"
# Spiders live beside their site's extraction code: newscrawl/sites/<site>/spider.py.
SPIDER_MODULES = ["newscrawl.sites"]
# The project's sites, name -> Site class (newscrawl/sites/base.py): the one place a site is named.
SITES_BASE = {"qq": "newscrawl.sites.qq.site.QQSite"}
# Sites added for a run or a deployment, merged over SITES_BASE (e.g. -s 'SITES={"x": "pkg.XSite"}').
SITES = {}
# Finds the spiders of SPIDER_MODULES, and makes one for each registered site that has none.
SPIDER_LOADER_CLASS = "newscrawl.crawl.spider.SiteSpiderLoader"
# Scrapy checks each callback's source for "return value in a generator" on every response
# (uncached for bound methods: a large share of a crawl's CPU); our callbacks return nothing.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Where `scrapy genspider` would put a new spider.
NEWSPIDER_MODULE = "newscrawl.sites"

# ---- output ----------------------------------------------------------------------------
# The Hugo content folder articles are written into.
OUTPUT_DIR = "output"
# Path of one article below OUTPUT_DIR ({lang}, {source}, {id}): Hugo's multilingual layout.
OUTPUT_PATH_TEMPLATE = "{lang}/news/{source}/{id}.{lang}.md"
# fsync each file before the atomic rename: survives power loss, not only a killed crawl.
WRITE_FSYNC = False
# "rfc3339" (2025-02-08T20:06:09+08:00) or "legacy" (2025-02-08 20:06:09, for sites that
# set Hugo's timeZone): without an offset Hugo reads the time as UTC.
DATE_STYLE = "rfc3339"
# Summary: the whole body text when shorter than SUMMARY_WHOLE_UNDER characters, else
# its first SUMMARY_LENGTH characters followed by "...".
SUMMARY_WHOLE_UNDER = 80
# Characters of body text a longer summary keeps before its "...".
SUMMARY_LENGTH = 50
# Front matter keys that are the same for every article (the users' theme expects them).
# Any key and any JSON value (lists, mappings) is written as YAML that reads back the same;
# a key that is not a plain word ("a: b", "yes") is quoted.
FRONT_MATTER_DEFAULTS = {
    "menu": "",
    "lead": "",
    "comments": False,
    "authorbox": False,
    "pager": True,
    "toc": False,
    "mathjax": False,
    "sidebar": "right",
    "widgets": ["search", "recent", "taglist"],
}

# ---- incremental runs ------------------------------------------------------------------
# Ids of articles that are gone for good (deleted, paid, 404/410), one JSON line each,
# so cron runs don't refetch them forever. Delete the file to retry them. "" = off.
STATE_FILE = "newscrawl-gone.jsonl"
# Articles whose page has no text and no images are recorded in STATE_FILE too (reason
# "empty"), and fetched again only after this many hours: the page may be filled in later.
EMPTY_RETRY_HOURS = 72.0

# ---- revisits: edits and deletions of archived articles (docs/revisits.md) ------------
# Fetch archived articles again on this schedule ("" = off): comma-separated steps "every
# INTERVAL until AGE", e.g. "every 30 min while younger than 6 h, every 3 h until 1 day,
# daily until 7 days" ("default" is that curve). `-a revisit=7d` is the default curve up to 7 days.
REVISIT_SCHEDULE = ""
# At most this many due articles are revisited per run, oldest-due first (the rest wait).
REVISIT_MAX_PER_RUN = 500
# The SQLite file of revisit state: when each archived article was written, checked, is due.
# Delete it (or a row) to reset; articles written while revisits were off are not in it.
REVISIT_STATE = "newscrawl-revisits.sqlite"
# Previous versions of changed articles, as <source>/<id>/<time>.md ("" = revisions/ beside OUTPUT_DIR).
REVISIONS_DIR = ""
# The time the revisit schedule reads (ISO time or epoch seconds; "" = the system clock):
# for tests and backfills.
REVISIT_NOW = ""

# ---- archival: images and manifest (docs/images.md) ---------------------------------
# Download each written article's body images and thumbnail once, byte for byte, and link
# the local copies instead of the site's. An image that fails keeps its remote URL.
IMAGES_DOWNLOAD = False
# Folder of downloaded images, as <source>/<sha1 of URL>.<ext> ("" = static/images beside
# OUTPUT_DIR, i.e. the Hugo site's static folder when OUTPUT_DIR is its content folder).
IMAGES_STORE = ""
# The URL path the site serves IMAGES_STORE at (include a baseURL subpath if the site has one).
IMAGES_URL_PREFIX = "/images"
# Referer sent with image requests ("" = each site's own: image hosts expect their own site).
IMAGES_REFERER = ""
# Append one JSON line per written article to this file ("" = off); or -o FILE:manifest.
MANIFEST = ""
# The manifest's feed export format.
FEED_EXPORTERS = {"manifest": "newscrawl.archive.manifest.ManifestExporter"}
# Scrapy add-ons; they run after -s settings are applied, so -s MANIFEST/REDIS_URL count.
ADDONS = {
    # Adds the MANIFEST file to FEEDS before the crawl starts.
    "newscrawl.archive.manifest.ManifestAddon": 0,
    # With REDIS_URL set, the shared scheduler of a scale-out run (see below); else nothing.
    "newscrawl.scaleout.ScaleOut": 0,
    # One-process runs: with JOBDIR (pause/resume one crawl), feed pages are never dropped as
    # seen by an earlier run, and a finished run leaves no fingerprints (newscrawl/crawl/jobdir.py).
    "newscrawl.crawl.jobdir.JobDirAddon": 0,
}

# ---- pipelines -------------------------------------------------------------------------
# One normalization each, then the writer, which alone touches the disk.
ITEM_PIPELINES = {
    "newscrawl.crawl.pipelines.TextPipeline": 100,
    "newscrawl.crawl.pipelines.ImageUrlPipeline": 200,
    # Off unless IMAGES_DOWNLOAD: needs the absolute URLs above, and runs before Markdown.
    "newscrawl.archive.images.LocalImagesPipeline": 250,
    "newscrawl.crawl.pipelines.DatePipeline": 300,
    "newscrawl.crawl.pipelines.SummaryPipeline": 400,
    "newscrawl.crawl.pipelines.MarkdownPipeline": 500,
    # Off unless revisits are on: keeps a changed article's previous file, adds lastmod/deleted.
    "newscrawl.crawl.revisit.RevisitPipeline": 890,
    "newscrawl.crawl.writer.WriterPipeline": 900,
}
# Runs ITEM_PIPELINES as Scrapy does, each stretch of consecutive normalization steps (and the
# writer) in one call instead of one asynchronous hop per entry: same steps, same order.
ITEM_PROCESSOR = "newscrawl.crawl.pipelines.ItemPipelineManager"
# Revisits (off unless REVISIT_SCHEDULE or -a revisit): due articles' requests, deletions, state.
# Requests reach the scheduler when made (callbacks' at once, start requests past the first
# CONCURRENT_REQUESTS at once), not one event-loop hop apart: the downloader stays full.
SPIDER_MIDDLEWARES = {
    "newscrawl.crawl.handoff.RequestHandoffMiddleware": 1,
    "newscrawl.crawl.revisit.RevisitMiddleware": 950,
}

# ---- politeness and HTTP ---------------------------------------------------------------
# A desktop browser User-Agent: news sites answer 403 to obvious bots.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
# Obey Tencent's robots.txt (a replay turns this off: the archive holds what was allowed).
ROBOTSTXT_OBEY = True
# Seconds a robots.txt request may take, and its retries: Scrapy would use DOWNLOAD_TIMEOUT
# and RETRY_TIMES (minutes against a host that never answers). Unfetchable = no rules.
ROBOTSTXT_TIMEOUT = 10.0
# Retries of a robots.txt request (0: one attempt; no answer means no rules).
ROBOTSTXT_RETRY_TIMES = 0
# Requests in flight at once, all sites together (Scrapy's default).
CONCURRENT_REQUESTS = 16
# Low per-domain concurrency: one site, be a polite guest.
CONCURRENT_REQUESTS_PER_DOMAIN = 4
# Scrapy starts this many tasks per callback (100 by default) for its output; ours yield one
# item at most and scheduling requests never waits, so more tasks would only cost CPU.
CONCURRENT_ITEMS = 1
# Seconds between requests to one site, at least (AutoThrottle may wait longer).
DOWNLOAD_DELAY = 0.25
# AutoThrottle adapts the delay to the site's response times: slower answers, fewer requests.
AUTOTHROTTLE_ENABLED = True
# AutoThrottle's first delay, in seconds.
AUTOTHROTTLE_START_DELAY = 1.0
# The longest delay AutoThrottle backs off to, in seconds.
AUTOTHROTTLE_MAX_DELAY = 30.0
# Requests AutoThrottle aims to have in flight to the site on average.
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
# Seconds before a request that got no answer fails (and is retried).
DOWNLOAD_TIMEOUT = 30
# Retry failed requests (timeouts, resets and the codes below): Tencent has bad minutes.
RETRY_ENABLED = True
# Retries per request after the first attempt.
RETRY_TIMES = 3
# HTTP statuses worth retrying: server errors, timeouts and rate limiting.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Cached pages would hide new versions of articles and make cron runs lie.
HTTPCACHE_ENABLED = False
# Headers of every request, as a browser sends them (Chinese first: the site's language).
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.6",
}

# ---- archival: WARC capture and replay (docs/archival.md) ----------------------------
# Write every HTTP exchange of the crawl into WARC 1.1 files in this folder ("" = off).
WARC_DIR = ""
# Start a new WARC file once the current one reaches this many (gzipped) bytes.
WARC_MAX_SIZE = 1_000_000_000
# WARC file names: <prefix>-<crawl start, UTC to the ms>-<serial>.warc.gz.
WARC_PREFIX = "newscrawl"
# Answer every request from this WARC file or folder, offline; `-a warc=PATH` sets it.
WARC_REPLAY = ""
# Replay also archived feed and article pages the replayed arguments did not reach (archives of several runs).
WARC_REPLAY_ALL = True
# Replay of several runs: the capture's `limit` caps only the first run's part, as each run's limit capped
# that run (off: it caps the whole replay). Off automatically when you give `-a limit` to the replay.
WARC_REPLAY_LIMIT_PER_RUN = True
# 950, next to the downloader: they see responses as received, before retries (550),
# decompression (590) and redirects (600). Each is idle unless its setting is on.
DOWNLOADER_MIDDLEWARES = {
    # Before Scrapy's timeout (350) and retry (550) middlewares: robots.txt's own limits.
    "newscrawl.crawl.robots.RobotsTxtLimits": 340,
    "newscrawl.archive.capture.WarcCaptureMiddleware": 950,
    "newscrawl.archive.replay.WarcReplayMiddleware": 951,
    # Scrapy's offsite filter (50), skipped when the spider has no allowed_domains (it would
    # allow every request, at a cost per request): newscrawl.crawl.offsite.
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
    "newscrawl.crawl.offsite.OffsiteMiddleware": 50,
}
# Scrapy's downloader, walking the downloader middlewares above with each method's facts worked
# out once (same methods, order, results and warnings; newscrawl.crawl.downloader).
DOWNLOADER = "newscrawl.crawl.downloader.Downloader"

# ---- run reporting ---------------------------------------------------------------------
# Write the run's final stats as JSON to this path ("" = off): for cron checks and tests.
STATS_FILE = ""
# `newscrawl rebuild`: megabytes of archived responses the index pass keeps inflated in
# memory, so the articles among them are not inflated a second time to be converted (each is
# freed once read; past the budget, responses are read again from the file). 0 = keep none.
# With --jobs N it is the total of the N workers: each keeps up to 1/N of it.
REBUILD_KEEP_MB = 256
# Seconds between "Articles: written N, skipped N, failed N (rate)" log lines (0 = off).
# They replace Scrapy's page-counting LogStats lines.
PROGRESS_INTERVAL = 60.0
# A run fails (non-zero exit status) when more than FAIL_RATIO of at least
# FAIL_MIN_ARTICLES article fetches failed, or that share of fetched pages matched no template.
FAIL_RATIO = 0.5
# The fewest article fetches a run needs before FAIL_RATIO can fail it.
FAIL_MIN_ARTICLES = 4
# A live run given its articles (-a ids=..., -a urls=...) fails when any of them could not be
# fetched or extracted (exit 5, or 6 when extraction failed), whatever FAIL_RATIO and
# FAIL_MIN_ARTICLES say: the caller asked for exactly those. False: the ratio decides, as in
# discovery runs, replays and rebuilds.
FAIL_ON_REQUESTED = True
# Progress lines, run summary and verdict, stats file; Scrapy's page-counting LogStats off;
# the cycle collector tuned while the crawl runs (startup's objects frozen, fewer passes);
# every traceback logged at ERROR counted (it fails the run: exit status 9).
EXTENSIONS = {
    "scrapy.extensions.logstats.LogStats": None,
    "newscrawl.crawl.extensions.LogLevelAtSource": 0,
    "newscrawl.crawl.extensions.CrawlGarbageCollection": 0,
    "newscrawl.crawl.extensions.LoggedErrorCount": 0,
    "newscrawl.crawl.extensions.ArticleProgress": 500,
    "newscrawl.crawl.extensions.RunSummary": 510,
    "newscrawl.crawl.extensions.StatsFile": 520,
}
# The project's `crawl` command exits non-zero when a run failed (see RunSummary).
COMMANDS_MODULE = "newscrawl.crawl.commands"

# ---- scale-out: several workers, one crawl (docs/scale-out.md) ------------------------
# Redis the workers share (redis://host:6379/0): one queue and duplicate filter per run.
# "" = off: one process, Scrapy's own scheduler, no Redis needed.
REDIS_URL = ""
# Key namespace in Redis (<prefix>:<spider>:...), for separate crawls sharing one Redis.
REDIS_KEY_PREFIX = "newscrawl"
# The run workers share; "" = automatic (the workers running at the same time form one run).
REDIS_RUN = ""
# An idle worker waits at most this long for busy workers to queue more, then closes
# (longer while a busy worker has missed heartbeats: until REDIS_WORKER_TIMEOUT says whether it is dead).
REDIS_IDLE_CLOSE_SECONDS = 30.0
# A worker silent this long is dead (on the same host: as soon as its pid is gone); the
# requests it had taken and not finished go back to the shared queue.
REDIS_WORKER_TIMEOUT = 30.0
# Article requests are fingerprinted by article id: every URL form of one article is one request.
REQUEST_FINGERPRINTER_CLASS = "newscrawl.crawl.fingerprint.ArticleFingerprinter"

# ---- Scrapy housekeeping ---------------------------------------------------------------
# Scrapy's in-memory stats collector (same keys and values) without its per-call deprecation
# shim, which made each stats update ~15x dearer (newscrawl/crawl/stats.py).
STATS_CLASS = "newscrawl.crawl.stats.StatsCollector"
# Dropped articles logged in one line (id, reason), not with a dump of the whole item.
LOG_FORMATTER = "newscrawl.crawl.extensions.ConciseLogFormatter"
# Scrapy's Telnet console (a Python shell on 127.0.0.1:6023): off; set True to debug a live run.
TELNETCONSOLE_ENABLED = False
# Scrapy's remote-control HTTP server, which also leaves a job file with its access token in
# ~/.local/state/scrapy/job_files (left behind by a killed run): off; set True to use it.
REMOTE_CONTROL_ENABLED = False
# Feed exports (the manifest, -o) write UTF-8, not \u escapes: titles stay readable.
FEED_EXPORT_ENCODING = "utf-8"
# Scrapy's default reactor, named so every Scrapy version runs the same one.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# The asyncio event loop under that reactor: uvloop's (the same asyncio API, its work in C:
# ~5% fewer instructions per article), or asyncio's own where uvloop is not installed
# (Windows). None: asyncio's own loop everywhere. See newscrawl/crawl/loop.py.
ASYNCIO_EVENT_LOOP = "newscrawl.crawl.loop.EventLoop"
# INFO shows the progress lines; WARNING keeps problems only (the summary line shows at every level).
LOG_LEVEL = "INFO"
