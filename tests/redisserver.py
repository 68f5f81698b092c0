"""A throwaway ``redis-server`` on a free 127.0.0.1 port, for the scale-out tests and benchmark.

    with RedisServer(tmp_dir) as redis:
        redis.url        # redis://127.0.0.1:PORT/0
        redis.client()   # a redis-py client
        redis.flush()    # FLUSHALL between tests

No persistence (``--save '' --appendonly no``), its files in ``tmp_dir``; stopped on exit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path, ready_timeout: float = 20.0) -> None:
        self.directory = Path(directory)
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=10)

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        # The port may be taken between free_port() and the bind: try a few.
        for _ in range(5):
            self.port = free_port()
            log = self.directory / f"redis-{self.port}.log"
            cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            cmd += ["--dir", str(self.directory), "--logfile", str(log)]
            self.proc = subprocess.Popen(cmd, cwd=self.directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start (see {self.directory})")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.client().ping():
                    return True
            except redis.ConnectionError:
                pass
            time.sleep(0.05)
        return False

    def flush(self) -> None:
        self.client().flushall()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
