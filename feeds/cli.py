"""The composition root: parses arguments, reads the clock, opens the state, prints diagnostics.

Exit status (a contract, spec/interface.md): 0 all went well (warnings
allowed); 1 some articles or sources failed but the rest was published;
2 bad usage or configuration, nothing written; 3 the writer lock was held.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from feeds import __version__, config, publish
from feeds.errors import ConfigError, FeedsError, StoreError
from feeds.model import Diagnostic, FeedFormat
from feeds.store import Store
from feeds.writer import Output

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        cfg, notes = config.load(
            Path(args.config), seeds=_path(args.seeds), output=_path(args.output),
            state=_path(args.state),
        )
    except ConfigError as exc:
        _say(Diagnostic("error", exc.where, exc.message))
        return EXIT_USAGE
    for note in notes:
        _say(note)
    handler = {"build": _build, "check": _check, "export": _export}.get(args.command)
    if handler is None:
        _say(Diagnostic("error", args.command, "not available in this version yet"))
        return EXIT_USAGE
    try:
        return handler(cfg, args)
    except StoreError as exc:
        _say(Diagnostic("error", exc.where, exc.message))
        return EXIT_USAGE
    except FeedsError as exc:
        _say(Diagnostic("error", exc.where, exc.message))
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", default="config/feeds.toml",
                        help="config file (default: config/feeds.toml)")
    common.add_argument("--seeds", help="article folder (overrides [paths] seeds)")
    common.add_argument("--output", help="output folder (overrides [paths] output)")
    common.add_argument("--state", help="state database (overrides [paths] state)")

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
    commands.add_parser("check", parents=[common],
                        help="parse the config and every article, print diagnostics, write nothing")
    export = commands.add_parser("export", parents=[common],
                                 help="write one feed to a file or stdout, not touching output/")
    export.add_argument("--feed", required=True, help="a section slug, 'all', or 'tags/<tag>'")
    export.add_argument("--format", required=True, choices=["rss", "atom", "json"])
    export.add_argument("-o", dest="out", help="file to write (default: stdout)")
    pull = commands.add_parser("pull", parents=[common], help="fetch upstream sources")
    pull.add_argument("--all", action="store_true")
    pull.add_argument("--source")
    for name, text in (("run", "daemon: rebuild and pull on schedule"),
                       ("serve", "serve output/ over HTTP")):
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--bind")
    return parser


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _say(diagnostic: Diagnostic, stream: TextIO | None = None) -> None:
    print(diagnostic, file=stream or sys.stderr)


def _now() -> datetime:
    return datetime.now(UTC)


def _open_store(cfg: config.Config, *, create: bool) -> Store:
    """The state; read-only commands use a throwaway one when none exists yet."""
    if create or cfg.paths.state.exists():
        return Store(cfg.paths.state)
    return Store(Path(":memory:"))


def _build(cfg: config.Config, args: argparse.Namespace) -> int:
    if args.pull:
        _say(Diagnostic("error", "build --pull", "upstream pulls are not available yet"))
        return EXIT_USAGE
    store = _open_store(cfg, create=True)
    try:
        output = Output(cfg.paths.output)
        result = publish.build(cfg, store, _now(), output=output, full=args.full)
    finally:
        store.close()
    for diagnostic in result.diagnostics:
        _say(diagnostic)
    out = cfg.paths.output
    print(
        f"{result.published} entries published; {len(result.changed)} file(s) changed; "
        f"{result.errors} error(s).\nFeeds are in {out}/ "
        f"(all sections: {out / 'rss.xml'}, {out / 'atom.xml'}, {out / 'feed.json'}; "
        f"index: {out / 'index.html'})"
    )
    if result.next_due is not None:
        print(f"next held-back article is due at {result.next_due.isoformat()}")
    return EXIT_FAILED if result.errors else EXIT_OK


def _check(cfg: config.Config, args: argparse.Namespace) -> int:
    store = _open_store(cfg, create=False)
    try:
        result = publish.build(cfg, store, _now(), output=None, reread=True)
    finally:
        store.close()
    for diagnostic in result.diagnostics:
        _say(diagnostic)
    print(f"{result.articles_read} article(s) checked; {result.errors} error(s).")
    return EXIT_FAILED if result.errors else EXIT_OK


def _export(cfg: config.Config, args: argparse.Namespace) -> int:
    fmt: FeedFormat = args.format
    store = _open_store(cfg, create=False)
    try:
        data = publish.export(cfg, store, _now(), publish.feed_key(args.feed), fmt)
    except KeyError:
        _say(Diagnostic("error", "--feed", f"no feed {args.feed!r} (a section slug, 'all' or "
                        "'tags/<tag>')"))
        return EXIT_USAGE
    finally:
        store.close()
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(args.out).write_bytes(data)
    return EXIT_OK
