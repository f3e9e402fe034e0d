"""The composition root: parses arguments, reads the clock, opens the state, prints diagnostics.

Exit status (a contract, docs/operations.md): 0 all went well (warnings
allowed); 1 some articles or sources failed but the rest was published;
2 bad usage or configuration, nothing written; 3 the writer lock was held;
5 the state or the output could not be read or written. Each error class
carries its status (`feeds.errors`); nothing here catches `KeyError`,
`OSError` or a driver's errors: the store and the output translate them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

from feeds import __version__, config, publish
from feeds.codec import to_epoch
from feeds.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CorruptState,
    FeedsError,
    LockHeld,
    SafetyStop,
    UsageError,
)
from feeds.lock import writer_lock
from feeds.model import Diagnostic, FeedFormat, FeedKey
from feeds.output import open_output
from feeds.publish import report
from feeds.sources.seeds import check_folder
from feeds.store import Store, open_store, schema_version

if TYPE_CHECKING:  # httpx, and feedparser with `pull`, load only for commands that fetch:
    import httpx  # importing them costs ~0.3 s, a fifth of a no-op build at 100,000 articles

SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if (problem := _clock_error()) is not None:
        _say(Diagnostic("error", SOURCE_DATE_EPOCH, problem))
        return EXIT_USAGE
    handler = {"build": _build, "check": _check, "export": _export, "pull": _pull,
               "sources": _sources, "run": _run, "serve": _serve,
               "migrate": _migrate, "copy-state": _copy_state, "status": _status,
               "preview": _preview}[args.command]
    try:
        cfg, notes = config.load(Path(args.config), seeds=args.seeds, output=args.output,
                                 state=args.state)
        for note in notes:
            _say(note)
        return handler(cfg, args)
    except FeedsError as exc:  # each error knows its exit status
        for problem in exc.problems:  # a config file's mistakes: one line each
            _say(Diagnostic("error", exc.where, problem))
        return exc.exit_status
    except BrokenPipeError:  # `feeds status | head`: the reader left; no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default="config/feeds.toml",
                        help="config file (default: config/feeds.toml)")
    common.add_argument("--seeds", help="article folder (overrides [paths] seeds)")
    common.add_argument("--output", help="output folder or s3://BUCKET/PREFIX/ "
                        "(overrides [paths] output)")
    common.add_argument("--state", help="state database file or postgresql:// URL "
                        "(overrides [paths] state)")

    parser = argparse.ArgumentParser(
        prog="feeds", description="The newsroom's feed publisher."
    )
    parser.add_argument("--version", action="version", version=f"feeds {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = commands.add_parser("build", parents=[common],
                                help="read seeds/, write every feed that changed into output/")
    build.add_argument("--pull", action="store_true",
                       help="first pull the upstream sources that are due")
    build.add_argument("--full", action="store_true",
                       help="re-read every article and re-render every file (writes only changes)")
    build.add_argument("--allow-unpublish", action="store_true",
                       help="let this build unpublish more than [safety] max_unpublish allows")
    check = commands.add_parser("check", parents=[common],
                                help="parse the config and every article, print diagnostics, "
                                "drafts and held articles; write nothing")
    for quiet in (build, check):
        quiet.add_argument("-q", "--quiet", action="store_true",
                           help="print only errors and warnings about files changed since the "
                           "last build (for cron: mail only news)")
    export = commands.add_parser("export", parents=[common],
                                 help="write one feed to a file or stdout, not touching output/")
    export.add_argument("--feed", required=True, help="a section slug, 'all', or 'tags/<tag>'")
    export.add_argument("--format", required=True, choices=["rss", "atom", "json"])
    export.add_argument("-o", dest="out", help="file to write (default: stdout)")
    pull = commands.add_parser("pull", parents=[common],
                               help="fetch the upstream sources that are due into the state")
    pull.add_argument("--all", action="store_true", help="every source, due or not")
    pull.add_argument("--source", action="append", metavar="NAME", help="this source (repeatable)")
    pull.add_argument("-q", "--quiet", action="store_true",
                      help="print only errors and warnings")
    _editor_commands(commands, common)
    commands.add_parser("sources", parents=[common],
                        help="print each upstream source's health as a table")
    _state_commands(commands, common)
    run = commands.add_parser("run", parents=[common],
                              help="daemon: rebuild and pull on their schedules")
    run.add_argument("--bind", metavar="HOST:PORT",
                     help="also serve output/, /healthz and /metrics over HTTP")
    run.add_argument("--role", choices=["pull", "build", "all"], default="all",
                     help="pull upstream sources, build, or both (default: all)")
    serve = commands.add_parser("serve", parents=[common], help="serve output/ over HTTP")
    serve.add_argument("--bind", metavar="HOST:PORT", help="default: [serve] bind")
    return parser


def _state_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                    common: argparse.ArgumentParser) -> None:
    commands.add_parser("migrate", parents=[common],
                        help="create the state, or bring its schema up to date, and nothing else")
    copy = commands.add_parser("copy-state", parents=[common],
                               help="copy the state, in one consistent snapshot, into an empty "
                               "TARGET (the online backup; leases are not copied)")
    copy.add_argument("target", metavar="TARGET",
                      help="a new SQLite file, or a postgresql:// URL of an empty database or "
                      "schema")


def _editor_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                     common: argparse.ArgumentParser) -> None:
    status = commands.add_parser("status", parents=[common],
                                 help="every article's status (read-only)")
    status.add_argument("--json", action="store_true", help="a JSON array, one object each")
    preview = commands.add_parser("preview", parents=[common],
                                  help="render one article (a draft too) outside output/")
    preview.add_argument("file", metavar="FILE", help="the article file")
    preview.add_argument("-o", dest="out", metavar="DIR",
                         help="folder to write into (default: a new temporary folder)")


def _say(diagnostic: Diagnostic, stream: TextIO | None = None) -> None:
    print(diagnostic, file=stream or sys.stderr)


def _now() -> datetime:
    """The build's clock: SOURCE_DATE_EPOCH when set (reproducible builds: the same input and
    clock give the same bytes), else the wall clock. The daemon always uses the wall clock."""
    fixed = os.environ.get(SOURCE_DATE_EPOCH)
    if fixed is None:
        return datetime.now(UTC)
    return datetime.fromtimestamp(int(fixed), UTC)


def _clock_error() -> str | None:
    try:
        _now()
    except (ValueError, OverflowError, OSError):
        return f"not a number of seconds since 1970: {os.environ[SOURCE_DATE_EPOCH]!r}"
    return None


def _open_store(cfg: config.Config, *, create: bool) -> Store:
    """The state. Read-only commands use a throwaway one when none exists yet, and never
    migrate; writers make a missing one, migrate an old one, and move aside one that is not a
    database (never one that is only busy or newer: that is exit 3 or 5)."""
    path = cfg.paths.state
    try:
        if schema_version(path) is None:
            if not create:
                return open_store(Path(":memory:"))
            _say(Diagnostic("notice", str(path), "no state yet: built from seeds/ (entry ids "
                            "from file names; publication times from header dates, else file "
                            "times)"))
        return open_store(path, migrate=create, wait=cfg.lock_wait)
    except CorruptState as exc:
        if not create or not isinstance(path, Path):
            raise
        from feeds.store.sqlite import move_aside

        aside = move_aside(path, _now())
        _say(Diagnostic("warning", str(path), f"{exc.message}; moved aside to {aside.name} and "
                        "rebuilt from seeds/ (publication times from header dates, else file "
                        "times; upstream entries return with the next pull)"))
        return open_store(path, migrate=True, wait=cfg.lock_wait)


def _client(cfg: config.Config) -> httpx.Client:
    from feeds.sources import fetch

    return fetch.make_client(
        user_agent=fetch.user_agent(cfg.site.base_url),
        allow_private_networks=cfg.fetch.allow_private_networks,
    )


def _run_pull(cfg: config.Config, store: Store, names: tuple[str, ...] | None, force: bool,
              quiet: bool) -> int:
    from feeds import pull

    with _client(cfg) as client:
        result = pull.pull(cfg, store, client, _now(), names=names, force=force)
    for diagnostic in result.diagnostics:
        if not quiet or diagnostic.level != "notice":
            _say(diagnostic)
    if quiet:
        return len(result.failed) + len(result.refused)
    shown = ", ".join(result.failed[:10])
    extra = len(result.failed) - 10
    more = f" and {extra} more (`feeds sources`)" if extra > 0 else ""
    failed = f": {shown}{more}" if result.failed else ""
    busy = f"; {len(result.busy)} held by another process" if result.busy else ""
    print(f"pulled {len(result.pulled)} source(s), {result.new_entries} new entries; "
          f"{len(result.failed)} failed{failed}{busy}")
    if result.new_entries:
        print("the new entries are published by the next build (`feeds build`; a running "
              "`feeds run` publishes them within seconds)")
    elif not (result.pulled or result.failed or result.busy or force or names):
        print(_next_pull(cfg, store))
    return len(result.failed) + len(result.refused)


def _next_pull(cfg: config.Config, store: Store) -> str:
    """Why nothing was pulled: when the next source falls due, and how not to wait."""
    configured = {u.name for u in cfg.upstream}
    if not configured:
        return "no upstream sources are configured ([[upstream]] in the configuration)"
    with store.snapshot():
        due = sorted((s.next_due, s.name) for s in store.sources()
                     if s.name in configured and not s.retired)
    hint = "`feeds pull --all` pulls every source now"
    if not due:
        return f"no source is due; {hint}"
    seconds, name = due[0]
    return (f"no source is due: the next is {name!r}, at "
            f"{report.local_time(seconds, cfg.site.zone)}; {hint}")


def _pull(cfg: config.Config, args: argparse.Namespace) -> int:
    known = {u.name for u in cfg.upstream}
    for name in args.source or ():
        if name not in known:
            _say(Diagnostic("error", "--source", f"no upstream source named {name!r}"))
            return EXIT_USAGE
    with writer_lock(cfg.paths.state, wait=cfg.lock_wait):
        store = _open_store(cfg, create=True)
        try:
            names = tuple(args.source) if args.source else None
            failed = _run_pull(cfg, store, names, force=args.all, quiet=args.quiet)
        finally:
            store.close()
    return EXIT_FAILED if failed else EXIT_OK


def _sources(cfg: config.Config, args: argparse.Namespace) -> int:
    from feeds import pull

    store = _open_store(cfg, create=False)
    try:
        with store.snapshot():
            table = pull.health_table(cfg, store)
    finally:
        store.close()
    sys.stdout.write(table)
    return EXIT_OK


def _build(cfg: config.Config, args: argparse.Namespace) -> int:
    failed = 0
    check_folder(cfg.paths.seeds)  # before the state is made: nothing is written at all
    with writer_lock(cfg.paths.state, wait=cfg.lock_wait):
        store = _open_store(cfg, create=True)
        try:
            if args.pull:
                failed = _run_pull(cfg, store, None, force=False, quiet=args.quiet)
            output = open_output(cfg.paths.output, store=store, s3=cfg.s3, full=args.full)
            progress = _progress if sys.stderr.isatty() else None
            try:
                with _build_lease(cfg) as fence:
                    result = publish.build(cfg, store, _now(), output=output, full=args.full,
                                           progress=progress, fence=fence,
                                           allow_unpublish=args.allow_unpublish)
            except SafetyStop as stop:
                if not args.pull:
                    raise
                raise SafetyStop(stop.where, f"{stop.message}. The entries pulled are stored "
                                 "and will be published by the next build that goes through"
                                 ) from stop
        finally:
            store.close()
    if progress is not None and result.articles_read >= 500:
        print(file=sys.stderr)  # end the progress line
    _say_all(result.diagnostics, result.repeated if args.quiet else None)
    feeds = publish.changed_feed_urls(cfg, result.changed)
    if cfg.websub_hub and feeds:
        from feeds.sources import fetch

        with fetch.make_hub_client(user_agent=fetch.user_agent(cfg.site.base_url)) as hub:
            for problem in fetch.ping_hub(hub, cfg.websub_hub, feeds):
                _say(Diagnostic("warning", cfg.websub_hub, f"WebSub ping failed: {problem}"))
    if not args.quiet:
        for line in report.lines(result.changes, cfg.site.zone):
            print(line)
        print(f"{result.published} entries published; {len(result.changed)} file(s) changed; "
              f"{result.errors} error(s).")
        if result.next_due is not None:
            print("the next held article goes out at "
                  f"{report.local_time(to_epoch(result.next_due), cfg.site.zone)}")
        print(_where(cfg))
    return EXIT_FAILED if result.errors or failed else EXIT_OK


def _say_all(diagnostics: Sequence[Diagnostic], repeated: Sequence[Diagnostic] | None) -> None:
    """Every diagnostic; with `repeated` (-q), only the errors and warnings of files that
    changed since the last build, so that a cron job mails only news."""
    old = set(repeated or ())
    for diagnostic in diagnostics:
        if repeated is None or (diagnostic.level != "notice" and diagnostic not in old):
            _say(diagnostic)


def _where(cfg: config.Config) -> str:
    """The build's last line: where the feeds are, and a way to look at them that works (the
    index opened as a file would not open its folder links)."""
    out = cfg.paths.output
    if not isinstance(out, Path):
        return f"Feeds are in {out} (served at {cfg.site.base_url})"
    try:
        host, port = config.parse_bind(cfg.serve_bind)
    except ValueError:
        host, port = "127.0.0.1", 8080
    shown = f"[{host}]" if ":" in host else host
    return (f"Feeds are in {out}/ (all sections: rss.xml, atom.xml, feed.json). To look at "
            f"them: `feeds serve`, then open http://{shown}:{port}/")


@contextlib.contextmanager
def _build_lease(cfg: config.Config) -> Iterator[Callable[[], None] | None]:
    """On a shared (PostgreSQL) state a one-shot build takes the build lease as a daemon does,
    waiting at most `[schedule] lock_wait` (then exit 3): two builders never commit in one
    epoch. The fence is asked before the output and the state are committed."""
    if not isinstance(cfg.paths.state, config.PostgresURL):
        yield None
        return
    from feeds.jobs import BuildLease
    from feeds.pull import new_owner

    location, owner = cfg.paths.state, new_owner()
    deadline = time.monotonic() + cfg.lock_wait
    while True:
        lease = BuildLease(lambda: open_store(location, wait=cfg.lock_wait), owner,
                           cfg.cluster.lease)
        with lease.held() as mine:
            if mine:
                yield lease.fence
                return
        if time.monotonic() >= deadline:
            raise LockHeld(str(location), "another process holds the build lease; gave up "
                           f"after {cfg.lock_wait:g}s (nothing written)")
        time.sleep(1)


def _progress(done: int, total: int) -> None:
    print(f"\rreading articles: {done}/{total}", end="", file=sys.stderr, flush=True)


def _bind(text: str, where: str) -> tuple[str, int]:
    """`--bind` is read exactly like `[serve] bind`; a malformed one is exit 2."""
    try:
        return config.parse_bind(text)
    except ValueError as exc:
        raise UsageError(where, str(exc)) from None


def _run(cfg: config.Config, args: argparse.Namespace) -> int:
    from feeds import daemon

    bind = None
    if args.bind is not None:
        bind = (*_bind(args.bind, "--bind"), "option")

    def load() -> tuple[config.Config, list[Diagnostic]]:
        return config.load(Path(args.config), seeds=args.seeds, output=args.output,
                           state=args.state)

    with _client(cfg) as client:
        return daemon.run(load, cfg, client, bind, args.role)


def _serve(cfg: config.Config, args: argparse.Namespace) -> int:
    from feeds import daemon

    if args.bind is not None:
        return daemon.serve(cfg, _bind(args.bind, "--bind"))
    return daemon.serve(cfg, _bind(cfg.serve_bind, f"{cfg.path}: serve.bind"))


def _migrate(cfg: config.Config, args: argparse.Namespace) -> int:
    """For deploy scripts: what `build`, `pull` and `run` do first, on its own."""
    path = cfg.paths.state
    before = schema_version(path)
    store = open_store(path, migrate=True, wait=cfg.lock_wait)
    store.close()
    after = schema_version(path)
    if before is None:
        print(f"{path}: new state, schema version {after}")
    elif before == after:
        print(f"{path}: schema version {after}, up to date")
    elif isinstance(path, Path):
        print(f"{path}: migrated from schema version {before} to {after} "
              f"(the version-{before} state is kept as {path.name}.v{before})")
    else:
        print(f"{path}: migrated from schema version {before} to {after}")
    return EXIT_OK


def _copy_state(cfg: config.Config, args: argparse.Namespace) -> int:
    """The state as one snapshot into an empty target: a move to PostgreSQL (or back), and
    the online backup. Daemons may go on running; it takes no lock and never migrates."""
    from feeds.store.copy import copy_state

    target = config.state_location(args.target, Path.cwd())
    copied = copy_state(cfg.paths.state, target, wait=cfg.lock_wait)
    print(f"copied {cfg.paths.state} into {target} (schema version {copied.version}):")
    width = max(len(name) for name in copied.rows)
    for name, rows in copied.rows.items():
        print(f"  {name:<{width}}  {rows} row(s)")
    print("leases were not copied: every source starts unclaimed, the build lease free")
    return EXIT_OK


def _check(cfg: config.Config, args: argparse.Namespace) -> int:
    check_folder(cfg.paths.seeds)
    store = _open_store(cfg, create=False)
    try:
        result, states = publish.check(cfg, store, _now(), reread=not args.quiet)
    finally:
        store.close()
    _say_all(result.diagnostics, result.repeated if args.quiet else None)
    if args.quiet:
        return EXIT_FAILED if result.errors else EXIT_OK
    zone = cfg.site.zone
    for state in states:
        if state.status != "published":
            print(_status_line(state, zone))
    counts = Counter(state.status for state in states)
    print(f"{result.articles_read} article(s) checked: {counts['published']} published, "
          f"{counts['held']} held until later, {counts['draft']} draft(s); "
          f"{result.errors} error(s).")
    return EXIT_FAILED if result.errors else EXIT_OK


def _status_line(state: publish.ArticleState, zone: ZoneInfo) -> str:
    words = report.status_words(state.status, state.held_until, zone)
    title = f'  "{state.title}"' if state.title else ""
    why = f"  ({state.message})" if state.message and state.status.startswith("error") else ""
    return f"{words}  {state.path}{title}{why}"


def _status(cfg: config.Config, args: argparse.Namespace) -> int:
    """Read-only: never migrates, never writes; no state yet is an empty list."""
    store = _open_store(cfg, create=False)
    try:
        states = publish.statuses(cfg, store, _now())
    finally:
        store.close()
    if args.json:
        json.dump([state.as_json() for state in states], sys.stdout, ensure_ascii=False,
                  indent=1)
        print()
    else:
        for state in states:
            print(_status_line(state, cfg.site.zone))
        counts = Counter(state.status.removesuffix("-kept") for state in states)
        print(f"{len(states)} article(s): " + (", ".join(
            f"{n} {word}" for word, n in sorted(counts.items())) or "none yet (no build)"))
    return EXIT_FAILED if any(s.status.startswith("error") for s in states) else EXIT_OK


def _preview(cfg: config.Config, args: argparse.Namespace) -> int:
    """Publishes nothing and never touches the state: a draft's page, opened as a file."""
    path = Path(args.file)
    try:
        data = path.read_bytes()
        mtime = int(path.stat().st_mtime)
    except OSError as exc:
        raise UsageError(args.file, f"cannot read: {exc.strerror or exc}") from None
    folder = cfg.paths.seeds.resolve()
    where = (f"{publish.seeds_label(cfg)}/{path.resolve().relative_to(folder).as_posix()}"
             if path.resolve().is_relative_to(folder) else str(path))
    store = _open_store(cfg, create=False)
    try:
        seen = publish.preview(cfg, store, _now(), where, data, mtime)
    finally:
        store.close()
    for diagnostic in seen.diagnostics:
        _say(diagnostic)
    words = report.status_words(seen.status, seen.held_until, cfg.site.zone)
    if seen.page is None:
        print(f"{words}  {where}: nothing to preview")
        return EXIT_FAILED
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="feeds-preview-"))
    page = out / "index.html"
    try:
        out.mkdir(parents=True, exist_ok=True)
        page.write_bytes(seen.page)
    except OSError as exc:
        from feeds.errors import OutputError

        raise OutputError(str(out), exc.strerror or str(exc)) from exc
    status = "would be published" if seen.status == "published" else words
    print(f'{status}  {where}  "{seen.title}"\npreview: {page.resolve().as_uri()}')
    return EXIT_FAILED if seen.status == "error" else EXIT_OK


def _export(cfg: config.Config, args: argparse.Namespace) -> int:
    fmt: FeedFormat = args.format
    check_folder(cfg.paths.seeds)
    store = _open_store(cfg, create=False)
    try:
        data, diagnostics = publish.export(cfg, store, _now(), FeedKey.from_path(args.feed), fmt)
    finally:
        store.close()
    for diagnostic in diagnostics:
        _say(diagnostic)
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return EXIT_OK
    try:
        Path(args.out).write_bytes(data)
    except OSError as exc:
        from feeds.errors import OutputError

        raise OutputError(args.out, exc.strerror or str(exc)) from exc
    return EXIT_OK
