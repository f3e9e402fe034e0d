"""`config/feeds.toml` (tomllib) → a typed, validated `Config`; errors name the file and key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds import typos
from feeds.errors import ConfigError
from feeds.model import Diagnostic
from feeds.text import fold, is_http_url, section_slug
from feeds.typos import fold_name

T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*\Z")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LANG_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*\Z")
_ID_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+\Z")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")
_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*\Z")
MIN_POLL_SECONDS = 300


@dataclass(frozen=True, slots=True)
class SectionConfig:
    slug: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outlet:
    name: str
    url: str | None = None
    feed: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    name: str
    outlet: str
    url: str
    section: str
    every: int  # seconds
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    content: Literal["summary", "full"] = "summary"


@dataclass(frozen=True, slots=True)
class Site:
    """`[site]`: what the site says of itself, in every feed and page."""

    title: str
    base_url: str
    language: str = "id"
    timezone: str = "Asia/Jakarta"
    languages: tuple[str, ...] = ("id", "en")
    author: str = ""
    id_prefix: str | None = None  # None: derived once and stored in the state
    items_per_feed: int = 50
    description: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class PostgresURL:
    """A state in PostgreSQL: a libpq URL (its password, if any, is never shown)."""

    url: str

    def __str__(self) -> str:
        return redact(self.url)


@dataclass(frozen=True, slots=True)
class S3URL:
    """An output in S3-compatible object storage: a bucket and a key prefix ('' or 'a/b/')."""

    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True, slots=True)
class Paths:
    seeds: Path
    output: Path | S3URL
    state: Path | PostgresURL


def redact(url: str) -> str:
    """`url` with its password, if any, replaced by `***`: in the user info, and in a
    `password=` query parameter (libpq reads both)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at and ":" in userinfo:
        authority = f"{userinfo.split(':', 1)[0]}:***@{host}"
    tail = _QUERY_PASSWORD.sub(r"\1***", tail)
    return f"{scheme}://{authority}{slash}{tail}"


_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def state_location(text: str, root: Path) -> Path | PostgresURL:
    """A `postgresql://` URL is recognised before any path handling; else a path."""
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresURL(text)
    return (root / text).resolve()


def output_location(text: str, root: Path) -> Path | S3URL:
    """An `s3://bucket/prefix/` URL is recognised before any path handling; else a path."""
    if text.startswith("s3://"):
        bucket, _, prefix = text.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        return S3URL(bucket, f"{prefix}/" if prefix else "")
    return (root / text).resolve()


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """`[fetch]`: also the limits of every upstream fetch (`feeds.sources.fetch.Limits`)."""

    allow_private_networks: bool = False
    timeout: float = 30.0  # seconds for a whole fetch, redirects included
    max_bytes: int = 10 * 1024 * 1024
    min_every: int = MIN_POLL_SECONDS
    concurrency: int = 16  # sources fetched at once by one process
    per_host: int = 2  # requests in flight to one host from one process


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """`[cluster]`: leases on a shared (PostgreSQL) state."""

    lease: int = 120  # seconds a claimed source or the build is held before another may take it
    poll: int = 5  # seconds between a daemon's looks for due work
    pull_log_days: int = 7


@dataclass(frozen=True, slots=True)
class S3Config:
    """`[s3]`: an s3:// output; credentials come from the AWS environment, never from here."""

    endpoint_url: str = ""  # empty: AWS
    region: str = ""
    concurrency: int = 16
    precompressed: bool = False


@dataclass(frozen=True, slots=True)
class Safety:
    """`[safety]`: how much of the site one build may unpublish before it stops (exit 4)."""

    max_unpublish: str = "20%"  # a share ("20%"; "100%" turns the guard off) or a count ("50")
    always_allowed: int = 10  # a build that unpublishes this many or fewer never stops

    def stops(self, going: int, before: int) -> bool:
        """Whether unpublishing `going` of the `before` published articles is too much."""
        if going <= self.always_allowed:
            return False
        if self.max_unpublish.endswith("%"):
            return going * 100 > float(self.max_unpublish[:-1]) * max(before, 1)
        return going > int(self.max_unpublish)


def _default(cls: type, name: str) -> Any:
    """A field's default, so that each default is written once: on its dataclass."""
    for item in fields(cls):
        if item.name == name and item.default is not MISSING:
            return item.default
    raise KeyError(f"{cls.__name__}.{name} has no default")


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    root: Path
    site: Site
    paths: Paths
    sections: tuple[SectionConfig, ...]
    outlets: tuple[Outlet, ...]
    upstream: tuple[UpstreamConfig, ...]
    fetch: FetchConfig
    safety: Safety
    cluster: ClusterConfig
    s3: S3Config
    rebuild_every: int
    lock_wait: int
    serve_bind: str
    websub_hub: str


def project_root(config_path: Path) -> Path:
    """Relative paths resolve against the project, never the current directory."""
    folder = config_path.resolve().parent
    return folder.parent if folder.name == "config" else folder


def load(
    path: Path,
    *,
    seeds: str | Path | None = None,
    output: str | Path | None = None,
    state: str | Path | None = None,
) -> tuple[Config, list[Diagnostic]]:
    """Read and validate the config file; command-line path overrides win over `[paths]`
    (relative ones resolve against the current folder; URLs are recognised first).

    Every mistake in the file is found in one run: the ConfigError lists them all, each
    with its key (`ConfigError.problems`)."""
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(where, "config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(where, f"cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(where, f"not valid TOML: {exc}") from exc
    reader = _Reader(where)
    config = _config(reader, raw, path, seeds=_text(seeds), output=_text(output),
                     state=_text(state))
    if reader.problems:
        raise reader.error()
    return config, reader.diagnostics


def _text(value: str | Path | None) -> str | None:
    return None if value is None else str(value)


class _Reader:
    """Walks the TOML tree once, collecting warnings and problems, each with its key.

    A getter that finds a problem records it and returns a stand-in (the default, or an
    empty value) so that the walk goes on to the next key; the Config built from stand-ins
    is never returned. A check that compares values asks first whether they are real
    (`ok`, or the number of problems before and after reading them)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.diagnostics: list[Diagnostic] = []
        self.problems: list[tuple[str, str]] = []  # (key, what is wrong), in file order

    def problem(self, key: str, message: str) -> None:
        self.problems.append((key, message))

    def ok(self, *keys: str) -> bool:
        """Whether no problem was found at any of `keys`, nor at a table holding one."""
        bad = {key for key, _ in self.problems}
        return not any(k == b or k.startswith(f"{b}.") for k in keys for b in bad)

    def error(self) -> ConfigError:
        return ConfigError.listing(self.where, [f"{k}: {m}" for k, m in self.problems])

    def stop(self, key: str, message: str) -> ConfigError:
        """The error for a mistake that makes checking the rest of the file pointless."""
        self.problem(key, message)
        return self.error()

    def table(self, value: object, key: str, known: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            self.problem(key, f"must be a table, not {_toml_type(value)}")
            return {}
        for name in sorted(set(value) - known):
            self.diagnostics.append(
                Diagnostic("warning", self.where, f"unknown key {key}.{name} (ignored)")
            )
        return value

    def get(
        self,
        table: Mapping[str, Any],
        prefix: str,
        name: str,
        kind: type[T],
        default: T | None = None,
        check: Callable[[T], str | None] | None = None,
    ) -> T:
        key = f"{prefix}.{name}" if prefix else name
        fallback = kind() if default is None else default
        if name not in table:
            if default is None:
                self.problem(key, "is required")
            return fallback
        value = table[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        problem = _type_problem(value, kind)
        if problem is None and check is not None:
            problem = check(value)
        if problem is not None:
            self.problem(key, problem)
            return fallback
        return cast(T, value)  # of `kind`: _type_problem said so

    def strings(self, table: Mapping[str, Any], prefix: str, name: str) -> tuple[str, ...]:
        key = f"{prefix}.{name}"
        value = table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(key, "must be a list of strings")
            return ()
        return tuple(v.strip() for v in value if v.strip())

    def duration(self, table: Mapping[str, Any], prefix: str, name: str, default: str) -> int:
        key = f"{prefix}.{name}"
        value = table.get(name, default)
        seconds = _seconds(value)
        if seconds is None:
            self.problem(key, f"must be a duration such as \"30m\" or \"1h\", not {value!r}")
        elif seconds <= 0:
            self.problem(key, "must be longer than zero")
        else:
            return seconds
        return _seconds(default) or 1


def _seconds(value: object) -> int | None:
    """A duration (a number of seconds, or "30m": s, m, h, d) in seconds; None if it is not."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return int(match[1]) * _UNITS[match[2]]
    return None


def _span(seconds: int) -> str:
    """Seconds as the operator would write them: 300 → "5m", 90 → "90s"."""
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def _type_problem(value: object, kind: type) -> str | None:
    # bool is an int in Python; a TOML `true` is never a number here.
    if kind is int and isinstance(value, bool):
        return f"must be an integer, not {value!r}"
    if not isinstance(value, kind):
        return f"must be {_kind_name(kind)}, not {_toml_type(value)}"
    return None

# --- the whole file, table by table -------------------------------------------

def _config(
    r: _Reader,
    raw: Mapping[str, Any],
    path: Path,
    *,
    seeds: str | None,
    output: str | None,
    state: str | None,
) -> Config:
    known = {"site", "paths", "sections", "outlets", "upstream", "fetch", "safety", "cluster",
             "s3", "schedule", "serve", "websub"}
    for name in sorted(set(raw) - known):
        r.diagnostics.append(
            Diagnostic("warning", r.where, f"unknown key {name} (ignored)")
        )
    site = _site(r, raw)
    root = project_root(path)
    paths = _paths(r, raw, root, seeds=seeds, output=output, state=state)
    before = len(r.problems)
    sections = _sections(r, raw)
    # A source's section is checked against a sound section list only: against a broken one
    # it would report the broken list's mistakes again, as unknown sections.
    usable = sections if len(r.problems) == before else None
    outlets = _outlets(r, raw)
    fetch = _fetch(r, raw)
    upstream = _upstream(r, raw, usable, fetch)
    schedule = r.table(raw.get("schedule", {}), "schedule", {"rebuild_every", "lock_wait"})
    serve = r.table(raw.get("serve", {}), "serve", {"bind"})
    websub = r.table(raw.get("websub", {}), "websub", {"hub"})
    return Config(
        path=path,
        root=root,
        site=site,
        paths=paths,
        sections=sections,
        outlets=outlets,
        upstream=upstream,
        fetch=fetch,
        safety=_safety(r, raw),
        cluster=_cluster(r, raw),
        s3=_s3(r, raw),
        rebuild_every=r.duration(schedule, "schedule", "rebuild_every", "5m"),
        lock_wait=r.duration(schedule, "schedule", "lock_wait", "60s"),
        serve_bind=r.get(serve, "serve", "bind", str, "127.0.0.1:8080", _check_bind),
        websub_hub=r.get(websub, "websub", "hub", str, "", _check_optional_url),
    )

def _safety(r: _Reader, raw: Mapping[str, Any]) -> Safety:
    t = r.table(raw.get("safety", {}), "safety", {"max_unpublish"})
    value = t.get("max_unpublish", _default(Safety, "max_unpublish"))
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Safety(str(value))
    if isinstance(value, str) and (match := _LIMIT.match(value)):
        number, percent = match.groups()
        if (percent and float(number) <= 100) or (not percent and number.isdigit()):
            return Safety(f"{number}{percent}")
    r.problem("safety.max_unpublish",
              f'must be a share such as "20%" (at most "100%") or a count such as 50, '
              f"not {value!r}")
    return Safety()


def _site(
    r: _Reader, raw: Mapping[str, Any]) -> Site:
    known = {"title", "base_url", "language", "timezone", "languages", "author", "id_prefix",
             "items_per_feed", "description"}
    # Without a [site] table this is most likely not a feeds config at all: say only that.
    if "site" not in raw:
        raise r.stop("site", "is required (with site.title and site.base_url)")
    if not isinstance(raw["site"], dict):
        raise r.stop("site", f"must be a table ([site]), not {_toml_type(raw['site'])}")
    t = r.table(raw["site"], "site", known)
    title = r.get(t, "site", "title", str, check=_check_nonempty)
    base_url = r.get(t, "site", "base_url", str, check=_check_http_url)
    if not base_url.endswith("/"):
        base_url += "/"
    language = r.get(t, "site", "language", str, _default(Site, "language"), _check_lang)
    languages = (r.strings(t, "site", "languages") if "languages" in t
                 else _default(Site, "languages"))
    for lang in languages:
        if (problem := _check_lang(lang)) is not None:
            r.problem("site.languages", f"{lang!r}: {problem}")
    if language not in languages:
        languages = (language, *languages)
    id_prefix = t.get("id_prefix")
    if id_prefix is not None:
        id_prefix = r.get(t, "site", "id_prefix", str, check=_check_id_prefix)
    return Site(
        title=title.strip(),
        base_url=base_url,
        language=language,
        timezone=r.get(t, "site", "timezone", str, _default(Site, "timezone"),
                          _check_zone),
        languages=languages,
        author=r.get(t, "site", "author", str, _default(Site, "author")).strip(),
        id_prefix=id_prefix,
        items_per_feed=r.get(t, "site", "items_per_feed", int,
                                _default(Site, "items_per_feed"), _check_items),
        description=r.get(t, "site", "description", str,
                             _default(Site, "description")).strip(),
    )

def _paths(
    r: _Reader,
    raw: Mapping[str, Any],
    root: Path,
    *,
    seeds: str | None,
    output: str | None,
    state: str | None,
) -> Paths:
    t = r.table(raw.get("paths", {}), "paths", {"seeds", "output", "state"})

    def value(name: str, default: str, override: str | None) -> tuple[str, Path]:
        """The setting, and what relative paths resolve against (the current folder for a
        command-line override, the project for the config file's)."""
        if override is not None:
            return override, Path.cwd()
        return r.get(t, "paths", name, str, default, _check_nonempty), root

    seeds_text, seeds_root = value("seeds", "seeds", seeds)
    paths = Paths(
        seeds=(seeds_root / seeds_text).resolve(),
        output=output_location(*value("output", "output", output)),
        state=state_location(*value("state", "state/feeds.sqlite", state)),
    )
    if isinstance(paths.output, S3URL) and not paths.output.bucket:
        r.problem("paths.output", "an s3:// output needs a bucket: s3://BUCKET/PREFIX/")
    if (r.ok("paths.state", "paths.output")
            and isinstance(paths.state, Path) and isinstance(paths.output, Path)
            and paths.state.is_relative_to(paths.output)):
        r.problem("paths.state", "must not be inside the output folder (it is served)")
    return paths

def _sections(
    r: _Reader, raw: Mapping[str, Any]) -> tuple[SectionConfig, ...]:
    value = raw.get("sections", [])
    if not isinstance(value, list):
        r.problem("sections", "must be an array of tables ([[sections]])")
        return ()
    sections: list[SectionConfig] = []
    seen: dict[str, str] = {}  # fold of every name, slug and alias so far → its section's slug
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            r.problem(f"sections[{i}]", "must be a table")
            continue
        section = _section(r, item, f"sections[{i}]", sections, seen)
        if section is not None:
            sections.append(section)
    return tuple(sections)


def _section(
    r: _Reader,
    item: Mapping[str, Any],
    position: str,
    sections: list[SectionConfig],
    seen: dict[str, str],
) -> SectionConfig | None:
    """One `[[sections]]` table, named in errors by its name (by `position` without one);
    None when it has a problem of its own."""
    before = len(r.problems)
    name = r.get(item, position, "name", str, check=_check_nonempty).strip()
    key = f"sections {name!r}" if len(r.problems) == before else position
    item = r.table(item, key, {"slug", "name", "aliases"})
    slug = r.get(item, key, "slug", str, section_slug(name), _check_slug)
    aliases = r.strings(item, key, "aliases")
    if len(r.problems) > before:
        return None  # its labels would only be compared with the others' by mistake
    other = next((s for s in sections if s.slug == slug), None)
    if other is not None:
        r.problem(f"{key}.slug", f"{slug!r} is used by two sections ({other.name!r} and "
                  f"{name!r}): give one of them a slug of its own")
        return None
    for field, label in (("name", name), ("slug", slug), *(("aliases", a) for a in aliases)):
        folded = fold(label)
        if folded in seen and seen[folded] != slug:
            r.problem(f"{key}.{field}", f"{label!r} already names section {seen[folded]!r}")
        else:
            seen[folded] = slug
    return SectionConfig(slug=slug, name=name, aliases=aliases)

def _outlets(
    r: _Reader, raw: Mapping[str, Any]) -> tuple[Outlet, ...]:
    value = raw.get("outlets", {})
    if not isinstance(value, dict):
        r.problem("outlets", "must be a table of tables ([outlets.\"name\"])")
        return ()
    outlets = []
    for name, item in value.items():
        key = f'outlets."{name}"'
        if not isinstance(item, dict):
            r.problem(key, "must be a table")
            continue
        item = r.table(item, key, {"url", "feed", "aliases"})
        url = r.get(item, key, "url", str, "", _check_optional_url) or None
        feed = r.get(item, key, "feed", str, "", _check_optional_url) or None
        outlets.append(Outlet(name, url, feed, r.strings(item, key, "aliases")))
    return tuple(outlets)

def _fetch(
    r: _Reader, raw: Mapping[str, Any]) -> FetchConfig:
    known = {"allow_private_networks", "timeout", "max_bytes", "min_every", "concurrency",
             "per_host"}
    t = r.table(raw.get("fetch", {}), "fetch", known)
    default = FetchConfig()
    return FetchConfig(
        allow_private_networks=r.get(t, "fetch", "allow_private_networks", bool,
                                        default.allow_private_networks),
        timeout=r.get(t, "fetch", "timeout", float, default.timeout, _check_positive),
        max_bytes=r.get(t, "fetch", "max_bytes", int, default.max_bytes,
                           _check_positive),
        min_every=r.duration(t, "fetch", "min_every", f"{default.min_every}s"),
        concurrency=r.get(t, "fetch", "concurrency", int, default.concurrency, _check_count),
        per_host=r.get(t, "fetch", "per_host", int, default.per_host, _check_count),
    )


def _cluster(r: _Reader, raw: Mapping[str, Any]) -> ClusterConfig:
    t = r.table(raw.get("cluster", {}), "cluster", {"lease", "poll", "pull_log_days"})
    default = ClusterConfig()
    return ClusterConfig(
        lease=r.duration(t, "cluster", "lease", f"{default.lease}s"),
        poll=r.duration(t, "cluster", "poll", f"{default.poll}s"),
        pull_log_days=r.get(t, "cluster", "pull_log_days", int, default.pull_log_days,
                            _check_count),
    )


def _s3(r: _Reader, raw: Mapping[str, Any]) -> S3Config:
    known = {"endpoint_url", "region", "concurrency", "precompressed"}
    t = r.table(raw.get("s3", {}), "s3", known)
    for secret in ("aws_access_key_id", "aws_secret_access_key", "access_key", "secret_key"):
        if secret in t:  # never here: a config file is copied, versioned, read by many
            r.problem(f"s3.{secret}", "credentials are never read from the config: set "
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or an AWS profile)")
    default = S3Config()
    return S3Config(
        endpoint_url=r.get(t, "s3", "endpoint_url", str, default.endpoint_url,
                           _check_optional_url),
        region=r.get(t, "s3", "region", str, default.region),
        concurrency=r.get(t, "s3", "concurrency", int, default.concurrency, _check_count),
        precompressed=r.get(t, "s3", "precompressed", bool, default.precompressed),
    )

_UPSTREAM_KEYS = ("name", "outlet", "url", "section", "every", "include", "exclude", "content")


def _upstream(
    r: _Reader,
    raw: Mapping[str, Any],
    sections: tuple[SectionConfig, ...] | None,
    fetch: FetchConfig,
) -> tuple[UpstreamConfig, ...]:
    """The `[[upstream]]` sources. `sections` is None when the section list has problems of
    its own: a source's section is then not looked up in it."""
    value = raw.get("upstream", [])
    if not isinstance(value, list):
        r.problem("upstream", "must be an array of tables ([[upstream]])")
        return ()
    labels = None if sections is None else _section_labels(sections)
    result: list[UpstreamConfig] = []
    names: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            r.problem(f"upstream[{i}]", "must be a table")
            continue
        result.append(_source(r, item, f"upstream[{i}]", names, labels, fetch))
    return tuple(result)


def _source(
    r: _Reader,
    item: Mapping[str, Any],
    position: str,
    names: set[str],
    labels: Mapping[str, tuple[str, SectionConfig]] | None,
    fetch: FetchConfig,
) -> UpstreamConfig:
    """One `[[upstream]]` table, named in errors by its name (`upstream 'antara-terkini'`),
    by `position` without one."""
    before = len(r.problems)
    name = r.get(item, position, "name", str, check=_check_nonempty).strip()
    key = f"upstream {name!r}" if len(r.problems) == before else position
    for unknown in sorted(set(item) - set(_UPSTREAM_KEYS)):
        # A typo here silently changes what is republished: refuse it.
        folded = fold_name(unknown)  # `Every` is `every` miscased, not another key
        near = folded if folded in _UPSTREAM_KEYS else typos.closest(folded, _UPSTREAM_KEYS)
        hint = f": did you mean {near!r}?" if near is not None else ""
        r.problem(f"{key}.{unknown}", f"unknown key in [[upstream]]{hint}")
    if name in names:
        r.problem(f"{key}.name", f"{name!r} is used by two sources: give each its own name")
    if name:  # not a stand-in for a missing one
        names.add(name)
    before = len(r.problems)
    section = r.get(item, key, "section", str, check=_check_nonempty)
    if labels is not None and len(r.problems) == before:
        section = _section_of(r, f"{key}.section", section, labels)
    before = len(r.problems)
    every = r.duration(item, key, "every", "30m")
    if len(r.problems) == before and r.ok("fetch.min_every") and every < fetch.min_every:
        r.problem(f"{key}.every", f"{_span(every)} is below the floor of "
                  f"{_span(fetch.min_every)} set by fetch.min_every: change the source's "
                  f"every to {_span(fetch.min_every)} or more, or lower fetch.min_every")
    content = r.get(item, key, "content", str, _default(UpstreamConfig, "content"))
    if content not in ("summary", "full"):
        r.problem(f"{key}.content", f'must be "summary" or "full", not {content!r}')
    return UpstreamConfig(
        name=name,
        outlet=r.get(item, key, "outlet", str, name).strip() or name,
        url=r.get(item, key, "url", str, check=_check_http_url),
        section=section,
        every=every,
        include=r.strings(item, key, "include"),
        exclude=r.strings(item, key, "exclude"),
        content="full" if content == "full" else "summary",
    )


def _section_labels(
    sections: tuple[SectionConfig, ...]) -> dict[str, tuple[str, SectionConfig]]:
    """`fold_name` of each section's name, slug and aliases → (the label to suggest for it,
    the section), as articles match their section line (`Rules.build`): the first section
    to claim a folded label keeps it; a slug is suggested as its section's name."""
    labels: dict[str, tuple[str, SectionConfig]] = {}
    for s in sections:
        for label, shown in ((s.name, s.name), (s.slug, s.name), *((a, a) for a in s.aliases)):
            if folded := fold_name(label):
                labels.setdefault(folded, (shown, s))
    return labels


def _section_of(
    r: _Reader, key: str, written: str, labels: Mapping[str, tuple[str, SectionConfig]]
) -> str:
    """The slug of the section that `written` names (its name, slug or an alias, matched as
    articles match theirs); a problem at `key` when it names none."""
    folded = fold_name(written)
    if folded in labels:
        return labels[folded][1].slug
    slugs = ", ".join(dict.fromkeys(s.slug for _, s in labels.values()))
    if not slugs:
        r.problem(key, f"{written!r} is not a configured section (none is): add it to "
                  "[[sections]]")
        return written
    one_of = f"the slug, name or an alias of one of: {slugs}"
    if (meant := typos.closest(folded, labels)) is not None:
        shown, section = labels[meant]
        suggestion = repr(shown) if shown == section.name else (
            f"{shown!r} (section {section.name!r})")
        advice = f"did you mean {suggestion}? Write {one_of}"
    else:
        advice = f"write {one_of} (or add it to [[sections]])"
    r.problem(key, f"{written!r} is not a configured section: {advice}")
    return written


# --- value checks: each returns a problem, or None --------------------------------


def _check_nonempty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _check_http_url(value: str) -> str | None:
    if not is_http_url(value.strip()):
        return f"must be an absolute http(s) URL with a scheme and host, not {value!r}"
    return None


def _check_optional_url(value: str) -> str | None:
    return _check_http_url(value) if value else None


def _check_lang(value: str) -> str | None:
    return None if _LANG_TAG.match(value) else f"{value!r} is not a BCP 47 language tag"


def _check_zone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{value!r} is not a known time zone"
    return None


def _check_id_prefix(value: str) -> str | None:
    if not _ID_PREFIX.match(value):
        return f"must be an absolute IRI prefix such as 'tag:example.org,2026:', not {value!r}"
    return None


def _check_count(value: int) -> str | None:
    return None if 1 <= value <= 1000 else f"must be between 1 and 1000, not {value}"


def _check_items(value: int) -> str | None:
    return None if 1 <= value <= 1000 else f"must be between 1 and 1000, not {value}"


def _check_positive(value: float) -> str | None:
    return None if value > 0 else f"must be greater than zero, not {value}"


def _check_slug(value: str) -> str | None:
    if value in ("all", "articles", "tags"):
        return f"{value!r} is reserved (the all-sections feed, article pages, tag feeds)"
    if not _SLUG.match(value):
        return f"{value!r} is not a usable slug (lower-case ASCII words joined by '-')"
    return None


def parse_bind(value: str) -> tuple[str, int]:
    """`HOST:PORT` → (host, port): a host name, an IPv4 address or an IPv6 one in brackets,
    and a port 1–65535. ValueError says what is wrong (an empty host would bind every
    interface: never by accident)."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or value.strip().endswith("]"):
        raise ValueError(f"must be HOST:PORT with a port, e.g. 127.0.0.1:8080, not {value!r}")
    if not host:
        raise ValueError(f"needs a host before the port (an empty host would listen on every "
                         f"interface; write 0.0.0.0:{port} to mean that), not {value!r}")
    if host.startswith("["):
        if not host.endswith("]") or ":" not in host:
            raise ValueError(f"an IPv6 host goes in brackets, e.g. [::1]:8080, not {value!r}")
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"an IPv6 host goes in brackets, e.g. [::1]:8080, not {value!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"the port must be a number from 1 to 65535, not {port!r}")
    return host, int(port)


def _check_bind(value: str) -> str | None:
    try:
        parse_bind(value)
    except ValueError as exc:
        return str(exc)
    return None


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        kind, kind.__name__
    )


def _toml_type(value: object) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
             list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)
