"""A real HTTP server on 127.0.0.1 for tests: routes answer with scripted responses."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterator[bytes] | None = None  # streamed without Content-Length instead of body
    delay: float = 0.0  # seconds between chunks


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes = b""


Route = Callable[[Seen], Reply]


class FeedServer:
    """`with FeedServer() as server: server.routes['/feed'] = lambda seen: Reply(...)`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.bytes_sent: dict[str, int] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per response

            def do_GET(self) -> None:
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()})
                owner.seen.append(seen)
                route = owner.routes.get(self.path.split("?")[0])
                reply = route(seen) if route else Reply(404, b"not found")
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                sent = 0
                try:
                    if reply.chunks is None:
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                        sent = len(reply.body)
                    else:
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for chunk in reply.chunks:
                            if reply.delay:
                                time.sleep(reply.delay)
                            self.wfile.write(chunk)
                            self.wfile.flush()
                            sent += len(chunk)
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                owner.bytes_sent[self.path] = owner.bytes_sent.get(self.path, 0) + sent

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                seen = Seen(self.path, {k.lower(): v for k, v in self.headers.items()},
                            self.rfile.read(length))
                owner.seen.append(seen)
                route = owner.routes.get(self.path.split("?")[0])
                reply = route(seen) if route else Reply(404, b"not found")
                self.send_response(reply.status)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
