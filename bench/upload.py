"""A cold upload to an S3-compatible bucket: sequential against parallel, through S3Output.

    python bench/upload.py [--objects 10000] [--size 5000] [--concurrency 1,16,32]
                           [--latency 0]

Starts moto's S3 server (its app under werkzeug's threaded server, as ThreadedMotoServer runs
it) on 127.0.0.1 in a child process of its own, so that the server's Python does not share
the client's GIL. For each concurrency: a fresh bucket and state, `--objects` distinct pages of
`--size` bytes staged (timed apart), then one `commit()` (timed: the client is made, every
object PUT with its headers, the manifest written). `--latency MS` delays each answer of the
server by that much, as a store across a network would (moto on loopback answers in ~1 ms,
which hides what parallel uploads are for). Prints a markdown table. Only dummy credentials
are set; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from feeds.config import S3URL, S3Config
from feeds.output.s3 import S3Output
from feeds.store import open_store


def serve(port: int, latency: float) -> None:
    """moto's server, in this (child) process, until it is terminated."""
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class Quiet(MotoRequestHandler):
        def log(self, type: str, message: str, *args: Any) -> None:
            pass

    app = DomainDispatcherApplication(create_backend_app)

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(latency)
        return app(environ, start_response)

    make_server("127.0.0.1", port, delayed if latency else app, threaded=True,
                request_handler=Quiet).serve_forever()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(endpoint: str) -> None:
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"moto did not start at {endpoint}")


def page(number: int, size: int) -> bytes:
    head = f"<!doctype html><title>Artikel {number}</title><p>".encode()
    body = (f"Paragraf {number} tentang kampus, ekonomi dan olahraga. " * (size // 40)).encode()
    return (head + body)[: size - 5] + b"</p>\n"


def one_run(endpoint: str, concurrency: int, objects: int, size: int) -> tuple[float, float]:
    """(seconds staging, seconds committing) of one cold upload."""
    import boto3

    bucket = f"bench-{concurrency}-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket)
    with tempfile.TemporaryDirectory(prefix="feeds-bench-") as folder:
        store = open_store(Path(folder) / "state.sqlite", migrate=True)
        try:
            output = S3Output(S3URL(bucket, "site/"), store,
                              S3Config(endpoint_url=endpoint, concurrency=concurrency))
            with store.transaction():
                start = time.perf_counter()
                for number in range(objects):
                    output.stage(f"articles/{number:05}.html", page(number, size), "page")
                staged = time.perf_counter()
                changed = output.commit()
                committed = time.perf_counter()
            assert len(changed) == objects, len(changed)
            assert len(store.manifest()) == objects
        finally:
            store.close()
    return staged - start, committed - staged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--concurrency", default="1,16,32")
    parser.add_argument("--latency", type=float, default=0.0, help="ms added to each answer")
    args = parser.parse_args()
    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                        ("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_EC2_METADATA_DISABLED", "true")):
        os.environ[name] = value  # dummies, for moto
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(port, args.latency / 1000), daemon=True)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_ready(endpoint)
        rows = []
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            staging, seconds = one_run(endpoint, concurrency, args.objects, args.size)
            rows.append((concurrency, staging, seconds))
            print(f"concurrency {concurrency}: staged in {staging:.2f} s, "
                  f"committed in {seconds:.2f} s", file=sys.stderr, flush=True)
    finally:
        server.terminate()
        server.join()
    base = rows[0][2]
    print(f"\ncold upload of {args.objects:,} objects of {args.size:,} bytes to moto on "
          f"loopback ({args.latency:g} ms added per request), {os.cpu_count()} cores\n")
    print("| concurrency | staging s | commit s | objects/s | vs first |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for concurrency, staging, seconds in rows:
        print(f"| {concurrency} | {staging:.2f} | {seconds:.2f} | {args.objects / seconds:,.0f} "
              f"| {base / seconds:.2f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
