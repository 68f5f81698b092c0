"""Archival: WARC capture and offline replay of a crawl's HTTP exchanges (WARC 1.1, warcio).

One module per job: ``records`` (record bytes), ``files`` (file rotation, orphan recovery),
``capture`` (the capture middleware), ``read`` (reading records, damaged-record resync),
``index`` (captures and the replay index), ``replay`` (replay settings, middleware, sweep).
Beside them, what else a run keeps: ``images`` (downloaded images, a FilesPipeline) and
``manifest`` (one JSON line per written article, a feed exporter).
"""
