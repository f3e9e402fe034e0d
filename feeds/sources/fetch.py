"""The only module that builds HTTP requests: polite, bounded, conditional GETs of upstream feeds.

Conditional GET with stored validators, at most 5 redirects followed by
hand (301/308 across the whole chain are remembered, 302/303/307 are
not), a byte cap enforced while streaming on both the raw and the decoded
bytes (decoded in bounded steps, so gzip and brotli bombs stop at the cap),
a deadline for the whole fetch enforced on every socket read and write (a
server that drips or stays silent is cut off), and a guard on the address
actually connected to:
loopback, private, link-local (cloud metadata), CGNAT, ULA, multicast and
reserved addresses are refused unless `[fetch] allow_private_networks`.
"""

from __future__ import annotations

import contextvars
import email.utils
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpcore
import httpx

from feeds.compress import ACCEPT_ENCODING, BoundedDecoder, DecodeError, OverCap
from feeds.config import FetchConfig as Limits
from feeds.errors import UpstreamError

MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}
PERMANENT = {301, 308}

CONNECT_TIMEOUT = 10.0  # seconds, per connection; the whole fetch has `Limits.timeout`
READ_TIMEOUT = 20.0  # seconds, per read
HUB_TIMEOUT = 10.0  # seconds, per WebSub ping
__all__ = ["Limits"]  # the fetch's limits are the operator's `[fetch]` settings

Resolver = Callable[[str, int], list[str]]
Clock = Callable[[], float]
EVERYWHERE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
# When the fetch in progress must end, and the clock that tells; every socket operation is
# bounded by it (httpx's timeouts apply per read, so a server could otherwise hold a fetch
# for as long as it sends a byte per read timeout, headers included).
_DEADLINE: contextvars.ContextVar[tuple[float, Clock] | None] = contextvars.ContextVar(
    "deadline", default=None
)


@dataclass(frozen=True, slots=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    url: str  # the URL that answered
    permanent_url: str | None  # where every hop redirected permanently: poll there from now on
    body: bytes | None
    validators: Validators
    content_type: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After
    max_age: int | None = None  # seconds, from Cache-Control


# --- the address guard -------------------------------------------------------------


def address_problem(address: str) -> str | None:
    """Why connecting to `address` is refused by default, or None for a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (
        ("loopback", ip.is_loopback),
        ("link-local (cloud metadata)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return f"{kind} address"
    if not ip.is_global:
        return "non-public address (shared or special-purpose range)"
    return None


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves the host itself and connects only to an allowed address (no DNS rebinding)."""

    def __init__(
        self,
        inner: httpcore.NetworkBackend,
        resolver: Resolver,
        allowed: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
    ) -> None:
        self.inner = inner
        self.resolver = resolver
        self.allowed = tuple(allowed)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            try:
                addresses = self.resolver(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refusal = "no address"
        for address in addresses:
            problem = address_problem(address)
            if problem is None or any(ipaddress.ip_address(address) in n for n in self.allowed):
                return _DeadlineStream(self.inner.connect_tcp(
                    address, port, timeout=_bounded(timeout), local_address=local_address,
                    socket_options=socket_options,
                ))
            refusal = f"{address} is a {problem}"
        raise httpcore.ConnectError(
            f"refused to connect to {host}: {refusal} "
            "(set [fetch] allow_private_networks = true to allow)"
        )

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


# No cap on the pool: the pull's own limits (`concurrency`, `per_host`) bound the requests in
# flight, and idle connections expire after 5 s. httpcore 1.0.9's caps race with threads: past
# `max_keepalive_connections` (it counts every connection, not the idle ones) or at
# `max_connections`, one thread's pass closes an idle connection that another thread was just
# given, which then fails with "ReadError: [Errno 9] Bad file descriptor" (seen 1 in 1,000
# fetches over 20 hosts; encode/httpcore#1110).
POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None,
                           keepalive_expiry=5.0)


def _bounded(timeout: float | None) -> float | None:
    bound = _DEADLINE.get()
    if bound is None:
        return timeout
    deadline, clock = bound
    left = deadline - clock()
    if left <= 0:
        raise httpcore.ReadTimeout("the fetch's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname,
                                                    _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport with the address guard in its connection pool's network layer."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        allowed: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        pool = self._pool
        # httpcore's pool takes its network backend as a field; wrapping it is the one hook
        # that sees the address actually connected to, redirects included.
        pool._network_backend = _GuardedBackend(pool._network_backend, resolver, allowed)


def user_agent(base_url: str) -> str:
    """The product's User-Agent, with the site it fetches for (servers' operators ask)."""
    from feeds import __version__

    return f"feeds/{__version__} (+{base_url})"


def make_client(
    *,
    user_agent: str,
    allow_private_networks: bool,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The client the CLI and the daemon build once and pass down."""
    if transport is None:  # guarded either way: the guard also enforces the deadline
        transport = GuardedTransport(allowed=EVERYWHERE if allow_private_networks else (),
                                     limits=POOL_LIMITS)
    return httpx.Client(
        transport=transport,
        headers={"User-Agent": user_agent, "Accept": _ACCEPT,
                 "Accept-Encoding": ACCEPT_ENCODING},
        timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        follow_redirects=False,
        trust_env=False,  # an environment proxy would bypass the address guard
    )


def make_hub_client(*, user_agent: str) -> httpx.Client:
    """The client that pings the configured WebSub hub. No address guard: the operator chose
    the hub, and it may well be internal."""
    return httpx.Client(timeout=HUB_TIMEOUT, headers={"User-Agent": user_agent},
                        trust_env=False)


_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"
)


def ping_hub(client: httpx.Client, hub: str, topics: Iterable[str]) -> list[str]:
    """WebSub `hub.mode=publish` for each changed feed URL; returns the problems, if any."""
    problems = []
    for topic in topics:
        try:
            response = client.post(hub, data={"hub.mode": "publish", "hub.url": topic})
        except httpx.HTTPError as exc:
            problems.append(f"{topic}: {type(exc).__name__}: {exc}")
            continue
        if response.status_code >= 300:
            problems.append(f"{topic}: hub answered HTTP {response.status_code}")
    return problems


# --- the fetch --------------------------------------------------------------------------


def fetch(
    client: httpx.Client,
    url: str,
    validators: Validators,
    limits: Limits,
    *,
    now: datetime,
    clock: Clock = time.monotonic,
) -> FetchResult:
    """GET `url` conditionally; raise UpstreamError for network failures and oversize bodies."""
    deadline = clock() + limits.timeout
    headers = {}
    if validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    token = _DEADLINE.set((deadline, clock))
    try:
        return _follow(client, url, validators, headers, limits, deadline, now, clock)
    finally:
        _DEADLINE.reset(token)


def _follow(
    client: httpx.Client,
    url: str,
    validators: Validators,
    headers: dict[str, str],
    limits: Limits,
    deadline: float,
    now: datetime,
    clock: Callable[[], float],
) -> FetchResult:
    current = url
    permanent = True
    for _ in range(MAX_REDIRECTS + 1):
        try:
            with client.stream("GET", current, headers=headers) as response:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise UpstreamError(
                            current, f"HTTP {response.status_code} without Location"
                        )
                    permanent = permanent and response.status_code in PERMANENT
                    current = _redirect_target(response.url, location, current)
                    continue
                body = None
                if response.status_code == 200:
                    body = _read_capped(response, limits, deadline, clock)
                return FetchResult(
                    status=response.status_code,
                    url=current,
                    permanent_url=current if permanent and current != url else None,
                    body=body,
                    validators=Validators(
                        response.headers.get("ETag"), response.headers.get("Last-Modified")
                    )
                    if response.status_code == 200
                    else validators,
                    content_type=response.headers.get("Content-Type"),
                    retry_after=_retry_after(response.headers.get("Retry-After"), now),
                    max_age=_max_age(response.headers.get("Cache-Control")),
                )
        except httpx.TimeoutException as exc:
            if clock() >= deadline - 0.1:
                raise UpstreamError(current, f"fetch took longer than {limits.timeout:g}s") from exc
            raise UpstreamError(current, f"timed out ({type(exc).__name__})") from exc
        except httpx.InvalidURL as exc:  # httpx parses a redirect's Location on arrival
            raise UpstreamError(current, f"unusable redirect target (InvalidURL: {exc}): "
                                         "refused") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(current, f"{type(exc).__name__}: {exc}") from exc
    raise UpstreamError(url, f"more than {MAX_REDIRECTS} redirects")


def _redirect_target(base: httpx.URL, location: str, current: str) -> str:
    try:
        target = base.join(location)
    except (httpx.InvalidURL, ValueError):
        raise UpstreamError(current, f"redirect to an unusable URL {location[:200]!r}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise UpstreamError(current, f"redirect to a non-http(s) URL {location[:200]!r}: refused")
    return str(target)


def _read_capped(
    response: httpx.Response, limits: Limits, deadline: float, clock: Callable[[], float]
) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        raise UpstreamError(
            str(response.url), f"body of {declared} bytes is over the {limits.max_bytes}-byte cap"
        )
    # An in-memory response (httpx.MockTransport) arrives read and decoded already.
    encoding = None if response.is_stream_consumed else response.headers.get("Content-Encoding")
    raws = [response.content] if response.is_stream_consumed else response.iter_raw()
    try:
        decoder = BoundedDecoder(encoding, limits.max_bytes)
    except DecodeError as exc:
        raise UpstreamError(str(response.url), str(exc)) from None
    over_cap = UpstreamError(
        str(response.url), f"body is over the {limits.max_bytes}-byte cap (stopped reading)"
    )
    chunks: list[bytes] = []
    size = 0
    for raw in raws:  # decoded here, in bounded steps: see feeds.compress
        size += len(raw)
        if size > limits.max_bytes:
            raise over_cap
        if clock() > deadline:
            raise UpstreamError(str(response.url), f"fetch took longer than {limits.timeout:g}s")
        try:
            chunks.append(decoder.decode(raw))
        except OverCap:
            raise over_cap from None
        except DecodeError as exc:
            raise UpstreamError(str(response.url), str(exc)) from None
    return b"".join(chunks)


def _retry_after(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _max_age(value: str | None) -> int | None:
    if not value:
        return None
    for part in value.split(","):
        name, _, number = part.strip().partition("=")
        if name.lower() in ("max-age", "s-maxage") and number.strip().isdigit():
            return int(number.strip())
    return None
