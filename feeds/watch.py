"""Notice files added, changed or removed: article files under `seeds/`, and the config file
(watchdog: inotify on Linux)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from feeds.sources.seeds import is_article_name


class _Handler(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[str], None], wanted: Callable[[str, bool], bool]):
        self.on_change = on_change
        self.wanted = wanted

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, not changes
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = raw.decode() if isinstance(raw, bytes) else raw
            if path and self.wanted(path, event.is_directory):
                self.on_change(path)
                return


class Watcher:
    """Calls `on_change(path)` from a background thread for every event `wanted` accepts."""

    def __init__(self, folder: Path, on_change: Callable[[str], None],
                 wanted: Callable[[str, bool], bool], *, recursive: bool) -> None:
        self.folder = folder
        self.recursive = recursive
        self.observer = Observer()
        self.handler = _Handler(on_change, wanted)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.observer.schedule(self.handler, str(self.folder), recursive=self.recursive)
        self.observer.daemon = True
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)


def seeds_watcher(folder: Path, on_change: Callable[[str], None]) -> Watcher:
    """Article files and folders anywhere under `seeds/`."""
    return Watcher(folder, on_change,
                   lambda path, folder: folder or is_article_name(Path(path).name),
                   recursive=True)


def file_watcher(path: Path, on_change: Callable[[str], None]) -> Watcher:
    """One file (the config): editors write a new file and rename it over the old one."""
    return Watcher(path.parent, on_change, lambda seen, folder: Path(seen).name == path.name,
                   recursive=False)
