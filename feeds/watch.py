"""Notice files added, changed or removed under `seeds/` (watchdog: inotify on Linux)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from feeds.sources.seeds import is_article_name


class _Handler(FileSystemEventHandler):
    def __init__(self, on_change: Callable[[str], None]) -> None:
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return  # reads, not changes
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = raw.decode() if isinstance(raw, bytes) else raw
            name = Path(path).name if path else ""
            if event.is_directory or is_article_name(name):
                self.on_change(path)
                return


class SeedWatcher:
    """Calls `on_change(path)` from a background thread for every article-file event."""

    def __init__(self, folder: Path, on_change: Callable[[str], None]) -> None:
        self.folder = folder
        self.observer = Observer()
        self.handler = _Handler(on_change)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.observer.schedule(self.handler, str(self.folder), recursive=True)
        self.observer.daemon = True
        self.observer.start()

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=5)
