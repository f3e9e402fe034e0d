"""Serve `output/` (Starlette on uvicorn) so that polling an unchanged feed is nearly free.

Strong ETags from each file's bytes (a precompressed variant has its own),
Last-Modified from the file, 304 for If-None-Match / If-Modified-Since,
gzip and brotli chosen by Accept-Encoding from files written at build time
(Starlette's GZip middleware would reuse the identity ETag), `Vary`, a
short `Cache-Control`, CORS, WebSub `Link` headers, `/healthz`; no
directory listings, no dotfiles, nothing outside the output folder.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from feeds.errors import BindError

CONTENT_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json; charset=utf-8",
}
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))  # preference order
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text format
FEED_NAMES = ("rss.xml", "atom.xml", "feed.json")


@dataclass(frozen=True, slots=True)
class Served:
    """What the server serves and how: the folder (None: only /healthz and /metrics), the
    public URL, the health report, the metrics."""

    output: Path | None
    base_url: str
    health: Callable[[datetime], dict[str, Any]]  # the /healthz report at a moment
    clock: Callable[[], datetime]
    hub: str = ""
    max_age: int = 300
    metrics: Callable[[], bytes] | None = None  # /metrics, Prometheus' text format


def content_type(name: str) -> str | None:
    for suffix, kind in CONTENT_TYPES.items():
        if name == suffix or name.endswith(suffix):
            return kind
    return None


class _ETags:
    """sha256-based strong ETags, cached per (path, inode, size, mtime): atomic replaces miss."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int, int], str] = {}
        self._lock = threading.Lock()

    def of(self, path: Path, data: bytes, key: tuple[str, int, int, int]) -> str:
        with self._lock:
            tag = self._cache.get(key)
            if tag is None:
                tag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = tag
            return tag


def make_app(site: Served, *, files: bool = True) -> Starlette:
    """/healthz, /metrics (when the site has metrics), and the output folder's files (unless
    `files` is False or there is no folder: a pull-only daemon, a bucket output)."""
    etags = _ETags()

    async def healthz(request: Request) -> Response:
        report = site.health(site.clock())
        return JSONResponse(report, status_code=200 if report["healthy"] else 503,
                            headers={"Cache-Control": "no-store"})

    async def metrics(request: Request) -> Response:
        assert site.metrics is not None
        return Response(site.metrics(), media_type=METRICS_TYPE,
                        headers={"Cache-Control": "no-store"})

    routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
    if site.metrics is not None:
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    if files and site.output is not None:
        routes.append(Route("/{path:path}", _files(site, site.output.resolve(), etags),
                            methods=["GET", "HEAD"]))
    return Starlette(routes=routes)


def _files(site: Served, root: Path, etags: _ETags) -> Callable[[Request], Any]:

    async def serve(request: Request) -> Response:
        relative = request.path_params.get("path", "")
        parts = [p for p in relative.split("/") if p]
        if any(p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            return _not_found()
        target = root.joinpath(*parts).resolve() if parts else root
        if not target.is_relative_to(root):
            return _not_found()
        if target.is_dir():
            if relative and not relative.endswith("/"):
                return RedirectResponse(f"/{relative}/", status_code=308)
            target = target / "index.html"
        kind = content_type(target.name)
        if kind is None or not target.is_file():
            return _not_found()
        return _file_response(request, site, root, target, kind, etags)

    return serve


def _not_found() -> Response:
    return Response("not found\n", status_code=404, media_type="text/plain")


def _file_response(
    request: Request, site: Served, root: Path, target: Path, kind: str, etags: _ETags
) -> Response:
    stat = target.stat()
    chosen, encoding = target, None
    accepted = _accepted_encodings(request.headers.get("accept-encoding", ""))
    for name, suffix in ENCODINGS:
        variant = target.with_name(target.name + suffix)
        if name in accepted and variant.is_file():
            chosen, encoding = variant, name
            break
    try:
        data = chosen.read_bytes()
        chosen_stat = chosen.stat()
    except FileNotFoundError:  # replaced between stat and read: the client retries
        return _not_found()
    key = (str(chosen), chosen_stat.st_ino, chosen_stat.st_size, chosen_stat.st_mtime_ns)
    headers = {
        "ETag": etags.of(chosen, data, key),
        "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        "Cache-Control": f"public, max-age={site.max_age}",
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "Content-Type": kind,
    }
    relative = target.relative_to(root).as_posix()
    if target.name in FEED_NAMES:
        links = [f'<{site.base_url}{relative}>; rel="self"']
        if site.hub:
            links.insert(0, f'<{site.hub}>; rel="hub"')
        headers["Link"] = ", ".join(links)
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    if _not_modified(request, headers["ETag"], int(stat.st_mtime)):
        del headers["Content-Type"]
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(len(data))
    body = b"" if request.method == "HEAD" else data
    return Response(body, status_code=200, headers=headers)


def _accepted_encodings(header: str) -> set[str]:
    accepted = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if name and q > 0:
            accepted.add(name.strip().lower())
    return accepted


def _not_modified(request: Request, etag: str, mtime: int) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        # Weak comparison, as RFC 9110 asks for If-None-Match.
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since:
        try:
            return int(parsedate_to_datetime(since).timestamp()) >= mtime
        except (TypeError, ValueError):
            return False
    return False


def listen(host: str, port: int, where: str) -> socket.socket:
    """A listening socket on (host, port), bound now: an address in use is BindError (exit 5)
    at once, not a server that logs "serving" and serves nothing."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise BindError(where, f"cannot listen there: {exc.strerror or exc}") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise BindError(where, (exc.strerror or str(exc)).lower()) from exc
    return sock


class Server:
    """uvicorn in a thread of its own on a socket already listening, stopped by `stop()` (the
    daemon owns the signals)."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        self.sock = sock
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       name="http", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once requests are answered."""
        self.thread.start()
        for _ in range(int(timeout / 0.02)):
            if self.server.started or not self.thread.is_alive():
                return
            time.sleep(0.02)

    @property
    def started(self) -> bool:
        return bool(self.server.started)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.sock.close()
