"""The output as an S3-compatible bucket: only changed objects are sent, the state keeps the list.

What the bucket holds is known from the state's manifest (key, sha256, size,
content type), never asked of the bucket: `holds` and `exists` answer from
it, so a build that changes nothing creates no client and sends no request.
Staged bytes are spooled in a local temp folder, one file per distinct body,
named `<kind>/<sha256>` (the kind gives the headers and the upload phase, the
name the manifest's hash: nothing is hashed twice); worker processes stage
through an `S3Stager`, which reads a snapshot of the manifest. `commit`
uploads in phases, in parallel within each (`[s3] concurrency` threads):
pages, tag feeds and about.html, then section feeds and listings, then the
site's index and OPML; then the deletions, linking files before pages. The manifest
changes are written to the state at the end, in the build's transaction, so
they commit with the build, and not at all when anything failed. With
`full`, the bucket is listed once, and an object missing from it, or of
another size than the manifest says, is not held. Every error of the client
becomes `OutputError` naming the object (exit 5), in `translated`.

boto3 is imported only by this module, and only once a commit has work.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from feeds.compress import COMPRESSORS
from feeds.config import S3URL, S3Config
from feeds.errors import FeedsError, OutputError, UsageError
from feeds.output import OutputKind, Staged

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from feeds.store import Store

# Feeds, listings and the site's index and OPML change with every article: a short life in
# caches, as `feeds serve` gives them. Article pages change only when edited (a correction
# shows within the hour).
SHORT_CACHE = "public, max-age=300"
PAGE_CACHE = "public, max-age=3600"
CACHE_CONTROL: dict[str, str] = {"feed": SHORT_CACHE, "listing": SHORT_CACHE,
                                 "site": SHORT_CACHE, "page": PAGE_CACHE}
ENCODINGS = {".gz": "gzip", ".br": "br"}  # precompressed variants: suffix → Content-Encoding
INDEX = "index.html"
UNKNOWN_TYPE = "application/octet-stream"
META = "s3_output"  # which bucket, prefix, endpoint (and variants) the manifest describes
HELD_FILE = "held.json"  # the manifest snapshot that worker processes read
BATCH_PER_THREAD = 8  # uploads per thread between two questions to `fence`
STALL = 1.0  # seconds since `fence` was last asked after which no upload starts unasked
# What the manifest remembers of an object: (sha256 hex, size, content type)
Entry = tuple[str, int, str]
_Job = TypeVar("_Job")


def content_type(relative: str) -> str:
    """The Content-Type of an object: its name's (a variant's is its plain file's, a folder
    key's is its index's), as `feeds serve` sends it."""
    from feeds.server import content_type as by_name  # Starlette loads only when uploading

    return by_name(plain_name(relative)) or UNKNOWN_TYPE


def plain_name(relative: str) -> str:
    """The file an object is the body of: `x.gz` → `x`, the folder key `S/` → `S/index.html`."""
    for suffix in ENCODINGS:
        if relative.endswith(suffix):
            return relative.removesuffix(suffix)
    if relative == "" or relative.endswith("/"):
        return relative + INDEX
    return relative


def folder_key(prefix: str, relative: str) -> str | None:
    """The folder key that serves `S/index.html` at `S/` behind a plain S3 origin (no folder
    index there); None for other files, and for the root index under an empty prefix: the
    bucket's root is the CDN's default object."""
    if relative != INDEX and not relative.endswith("/" + INDEX):
        return None
    folder = relative.removesuffix(INDEX)
    return folder if prefix + folder else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Change(NamedTuple):
    """One object to upload: its key under the prefix, its bytes and their sha256."""

    relative: str
    data: bytes
    digest: str


def changes(relative: str, data: bytes, kind: OutputKind, *, prefix: str, precompressed: bool,
            entry: Callable[[str], Entry | None]) -> list[Change]:
    """The objects that writing `data` to `relative` must upload, none when the manifest
    (`entry`, by full key) says the bucket holds them: the file, with `precompressed` its
    .gz and .br (not for pages), and its folder key when it is a folder's index."""
    kind_type = content_type(relative)
    digest = sha256(data)

    def current(name: str, body_digest: str, size: int) -> bool:
        return entry(prefix + name) == (body_digest, size, kind_type)

    changed = not current(relative, digest, len(data))
    found: list[Change] = []
    if precompressed and kind != "page":
        for suffix, compress in COMPRESSORS.items():
            if changed or entry(prefix + relative + suffix) is None:
                variant = compress(data)
                variant_digest = sha256(variant)
                if not current(relative + suffix, variant_digest, len(variant)):
                    found.append(Change(relative + suffix, variant, variant_digest))
    if changed:
        found.append(Change(relative, data, digest))
    folder = folder_key(prefix, relative)
    if folder is not None and not current(folder, digest, len(data)):
        found.append(Change(folder, data, digest))
    return found


def spool_file(spool: str, kind: OutputKind, change: Change) -> str:
    """The spool file holding `change`'s bytes, written unless a body like it is there already
    (safe in any process: written under a name of its own, then renamed)."""
    path = os.path.join(spool, kind, change.digest)  # noqa: PTH118 (no Path per file)
    if not os.path.exists(path):  # noqa: PTH110
        temp = f"{path}.{os.getpid()}-{threading.get_ident()}.tmp"
        with open(temp, "wb") as handle:  # noqa: PTH123
            handle.write(change.data)
        os.replace(temp, path)  # noqa: PTH105
    return path


_snapshot: tuple[str, dict[str, Entry]] | None = None  # a worker's manifest, read once


def _read_snapshot(path: str) -> dict[str, Entry]:
    global _snapshot
    if _snapshot is None or _snapshot[0] != path:
        with open(path, encoding="utf-8") as handle:  # noqa: PTH123
            rows = json.load(handle)
        _snapshot = (path, {key: (str(h), int(s), str(t)) for key, (h, s, t) in rows.items()})
    return _snapshot[1]


@dataclass(frozen=True, slots=True)
class S3Stager:
    """Stages objects for an `S3Output` from worker processes (picklable: a few strings): it
    compares with the manifest snapshot the output wrote, and spools what changed."""

    spool: str
    prefix: str
    precompressed: bool

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> list[Staged]:
        with translated(self.spool):
            held = _read_snapshot(os.path.join(self.spool, HELD_FILE))  # noqa: PTH118
            return [Staged(change.relative, spool_file(self.spool, kind, change))
                    for change in changes(relative, data, kind, prefix=self.prefix,
                                          precompressed=self.precompressed, entry=held.get)]


class Upload(NamedTuple):
    key: str  # the object's key in the bucket (the prefix included)
    path: str  # its spool file: `<kind>/<sha256>`
    kind: str
    content_type: str
    encoding: str | None  # Content-Encoding of a precompressed variant

    @classmethod
    def of(cls, key: str, path: str) -> Upload:
        kind = os.path.basename(os.path.dirname(path))  # noqa: PTH119, PTH120
        encoding = next((name for suffix, name in ENCODINGS.items() if key.endswith(suffix)),
                        None)
        return cls(key, path, kind, content_type(key), None if kind == "page" else encoding)


def upload_phase(relative: str, kind: str) -> int:
    """Which phase uploads an object: what is linked goes before what links to it. The index
    (and its folder key) and the OPML go last; the site's other files (about.html, which
    every JSON Feed links) go first, with the article pages and the tag feeds."""
    if kind == "site":
        name = plain_name(relative)
        return 2 if name == INDEX or name.endswith(".opml") else 0
    if kind == "page" or relative.startswith("tags/"):
        return 0
    return 1  # section feeds and listings, and the all-sections feed


def deletion_phase(relative: str) -> int:
    """Linking files (feeds, listings, folder keys, the OPML) go before the pages they link."""
    from feeds.server import FEED_NAMES

    name = plain_name(relative).rsplit("/", 1)[-1]
    return 0 if name in FEED_NAMES or name == INDEX or name.endswith(".opml") else 1


class Bucket:
    """The client's side: a boto3 client made on first use, parallel uploads and deletions."""

    def __init__(self, location: S3URL, config: S3Config) -> None:
        self.location = location
        self.config = config
        self._client: S3Client | None = None

    def where(self, key: str) -> str:
        return f"s3://{self.location.bucket}/{key}"

    def client(self) -> S3Client:
        if self._client is None:
            with translated(str(self.location)):
                self._client = make_client(self.config)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(Exception):
                client.close()

    def sizes(self) -> dict[str, int]:
        """Every object under the prefix, with its size: one listing."""
        found: dict[str, int] = {}
        with translated(str(self.location)):
            pages = self.client().get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.location.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"]] = item["Size"]
        return found

    def put(self, upload: Upload) -> tuple[str, int]:
        """Upload one spooled object with its headers; its sha256 and size."""
        with translated(self.where(upload.key)):
            with open(upload.path, "rb") as handle:  # noqa: PTH123
                data = handle.read()
            extra: dict[str, Any] = {}
            if upload.encoding is not None:
                extra["ContentEncoding"] = upload.encoding
            self.client().put_object(
                Bucket=self.location.bucket, Key=upload.key, Body=data,
                ContentType=upload.content_type, CacheControl=CACHE_CONTROL[upload.kind],
                ContentMD5=base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324 (integrity, as S3 asks)
                **extra,
            )
        return os.path.basename(upload.path), len(data)  # noqa: PTH119

    def delete(self, key: str) -> None:
        # One DELETE per key: multi-object delete is missing from some S3-compatible stores
        # (GCS's interoperability API) and wants a Content-MD5 others insist on.
        with translated(self.where(key)):
            self.client().delete_object(Bucket=self.location.bucket, Key=key)

    def run(self, jobs: Sequence[_Job], work: Callable[[_Job], object],
            fence: Callable[[], None] | None,
            clock: Callable[[], float] = time.monotonic) -> None:
        """`work` on every job, `concurrency` at a time, in batches; `fence` is asked before
        each batch, and again before a job when it was last asked more than STALL seconds
        ago: a process stopped in the middle of a batch (past its lease) starts no upload
        after it resumes without asking. The first error stops what has not started and is
        raised once the uploads under way have ended."""
        if not jobs:
            return
        threads = self.config.concurrency
        step = threads * BATCH_PER_THREAD
        asked = [clock()]
        asking = threading.Lock()

        def fenced(job: _Job) -> object:
            if fence is not None and clock() - asked[0] > STALL:
                with asking:
                    if clock() - asked[0] > STALL:
                        fence()
                        asked[0] = clock()
            return work(job)

        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="s3") as pool:
            for start in range(0, len(jobs), step):
                if fence is not None:
                    fence()
                    asked[0] = clock()
                futures = [pool.submit(fenced, job) for job in jobs[start : start + step]]
                pending = wait(futures, return_when=FIRST_EXCEPTION).not_done
                for future in pending:
                    future.cancel()
                wait(pending)
                for future in futures:
                    error = None if future.cancelled() else future.exception()
                    if error is not None:
                        raise error


def make_client(config: S3Config) -> S3Client:
    """A client for `[s3]`: credentials from the AWS environment, profiles and instance roles
    (boto3's chain), never from feeds.toml."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise UsageError("[paths] output", "an s3:// output needs boto3 "
                         f"({exc.name} is not installed): pip install 'feeds[s3]'") from None

    custom = bool(config.endpoint_url)
    settings = Config(
        max_pool_connections=config.concurrency,
        connect_timeout=10, read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
        # MinIO, Ceph and most S3-compatible stores answer at path-style URLs by default;
        # AWS itself prefers virtual-hosted ones.
        s3={"addressing_style": "path" if custom else "auto"},
        # boto3's default CRC checksums (aws-chunked bodies) are refused by several
        # S3-compatible stores; every object carries a Content-MD5 instead.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=config.endpoint_url or None, region_name=config.region or None,
        config=settings,
    )


@contextlib.contextmanager
def translated(where: str) -> Iterator[None]:
    """The one place where the client's errors (and the spool's) become `OutputError`."""
    try:
        yield
    except FeedsError:
        raise
    except Exception as exc:
        reason = describe(exc)
        if reason is None:
            raise
        raise OutputError(where, reason) from exc


HINTS = {
    "NoSuchBucket": "the bucket does not exist: create it, or fix [paths] output",
    "AccessDenied": "the credentials may not write here: check the bucket policy",
    "InvalidAccessKeyId": "the access key is unknown to this endpoint",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
}


def describe(exc: BaseException) -> str | None:
    """What went wrong, in one line; None for an error that is not the bucket's or the spool's."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    try:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    except ImportError:  # pragma: no cover (boto3 is what raised it)
        return None
    if isinstance(exc, NoCredentialsError):
        return ("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
                "AWS_PROFILE (credentials are never read from feeds.toml)")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "error"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"{code}: {error.get('Message') or 'refused'} (HTTP {status})"
        return f"{text}: {HINTS[code]}" if code in HINTS else text
    if isinstance(exc, BotoCoreError):
        return " ".join(str(exc).split())
    return None


class S3Output:
    """Stages changed objects for an S3-compatible bucket; nothing is sent until `commit()`."""

    def __init__(self, location: S3URL, store: Store, config: S3Config, *,
                 full: bool = False) -> None:
        self.url = location
        self.store = store
        self.config = config
        self.full = full
        self.prefix = location.prefix
        self.bucket = Bucket(location, config)
        self._spool: str | None = None
        self._staged: dict[str, str] = {}  # relative key → spool file; the last stage wins
        self._removals: dict[str, None] = {}  # ordered; a later stage of the key cancels it
        self._recorded: dict[str, Any] | None = None  # META as read from the state
        self._read_meta = False
        self._held: dict[str, Entry] | None = None  # the whole (trusted) manifest, once read

    @property
    def location(self) -> str:
        return str(self.url)

    # --- what the bucket holds: the manifest ---------------------------------------------

    def _identity(self) -> dict[str, Any]:
        return {"endpoint_url": self.config.endpoint_url, "bucket": self.url.bucket,
                "prefix": self.prefix, "precompressed": self.config.precompressed}

    def _meta(self) -> dict[str, Any] | None:
        if not self._read_meta:
            text = self.store.get_meta(META)
            self._recorded = None if text is None else json.loads(text)
            self._read_meta = True
        return self._recorded

    def _trusted(self) -> bool:
        """Whether the manifest describes this bucket, prefix and endpoint: another one (the
        output moved) is not trusted, and everything is uploaded again."""
        recorded = self._meta()
        place = {k: v for k, v in self._identity().items() if k != "precompressed"}
        return recorded is not None and all(recorded.get(k) == v for k, v in place.items())

    def _first_use(self) -> None:
        """With `full`, list the bucket now, once: what is missing is not held."""
        if self.full and self._held is None:
            self._load()

    def _load(self) -> dict[str, Entry]:
        if self._held is None:
            manifest = self.store.manifest() if self._trusted() else {}
            if self.full and manifest:
                sizes = self.bucket.sizes()
                manifest = {k: v for k, v in manifest.items() if sizes.get(k) == v[1]}
            self._held = manifest
        return self._held

    def _entry(self, key: str) -> Entry | None:
        self._first_use()
        if self._held is not None:
            return self._held.get(key)
        return self.store.manifest_entry(key) if self._trusted() else None

    def holds(self, relative: str, data: bytes) -> bool:
        return self._entry(self.prefix + relative) == (sha256(data), len(data),
                                                       content_type(relative))

    def exists(self, relative: str) -> bool:
        """From the manifest. The index does not exist for a manifest made with another
        `precompressed`: the build is then full, and adds or removes the variants."""
        if relative == INDEX:
            recorded = self._meta()
            if recorded is None or recorded.get("precompressed") != self.config.precompressed:
                return False
        return self._entry(self.prefix + relative) is not None

    def list_files(self) -> Iterator[str]:
        """Every object the manifest lists, by its key under the prefix (folder keys too)."""
        held = self._load()
        yield from sorted(key.removeprefix(self.prefix) for key in held)

    # --- staging -----------------------------------------------------------------------------

    def _spool_folder(self) -> str:
        """The local folder staged bytes wait in (under TMPDIR), made on first need."""
        if self._spool is None:
            with translated(tempfile.gettempdir()):
                spool = tempfile.mkdtemp(prefix="feeds-s3-")
                for kind in CACHE_CONTROL:
                    os.mkdir(os.path.join(spool, kind))  # noqa: PTH102, PTH118
            self._spool = spool
        return self._spool

    def stager(self) -> S3Stager:
        spool = self._spool_folder()
        held = self._load()
        path = os.path.join(spool, HELD_FILE)  # noqa: PTH118
        with translated(spool), open(path, "w", encoding="utf-8") as handle:  # noqa: PTH123
            json.dump(held, handle)
        return S3Stager(spool, self.prefix, self.config.precompressed)

    def stage(self, relative: str, data: bytes, kind: OutputKind) -> bool:
        """With `[s3] precompressed`, `relative.gz` and `relative.br` are staged beside
        feeds, listings and the site's files; a folder's index also under its folder key."""
        found = changes(relative, data, kind, prefix=self.prefix,
                        precompressed=self.config.precompressed, entry=self._entry)
        if not found:
            return False
        spool = self._spool_folder()
        with translated(spool):
            self.adopt(Staged(change.relative, spool_file(spool, kind, change))
                       for change in found)
        return any(change.relative == relative for change in found)

    def adopt(self, staged: Iterable[Staged]) -> None:
        for item in staged:
            self._removals.pop(item.relative, None)
            self._staged[item.relative] = item.temp

    def drop(self, staged: Iterable[Staged]) -> None:
        """Nothing to do now: a spool file may hold the bytes of another object too (a folder
        key and its index share one); the spool folder goes at commit or discard."""

    def remove(self, relative: str) -> bool:
        names = [relative, *(relative + suffix for suffix in ENCODINGS)]
        folder = folder_key(self.prefix, relative)
        if folder is not None:
            names.append(folder)
        found = False
        for name in names:
            if self._entry(self.prefix + name) is not None:
                self._removals[name] = None
                found = True
        return found

    # --- commit ------------------------------------------------------------------------------

    def commit(self, fence: Callable[[], None] | None = None) -> list[str]:
        """Upload in phases (pages, tag feeds, about.html; section feeds and listings; the index and
        the OPML), delete (linking files, then pages), then write the manifest's changes to
        the state, whose transaction commits after. Nothing is sent, and no client made,
        when nothing changed."""
        self._variants_turned_off()
        uploads = {rel: path for rel, path in self._staged.items() if rel not in self._removals}
        removals = list(self._removals)
        if not uploads and not removals:
            if self._meta() != self._identity():  # `precompressed` changed, nothing else
                self._record([], [])
            self._reset()
            return []
        try:
            self.bucket.client()  # made here, not raced for by the upload threads
            rows = self._upload(uploads, fence)
            for phase in (0, 1):
                keys = [self.prefix + r for r in removals if deletion_phase(r) == phase]
                self.bucket.run(keys, self.bucket.delete, fence)
        finally:
            self.bucket.close()
        self._record(rows, [self.prefix + r for r in removals])
        self._reset()
        return sorted([*uploads, *removals])

    def _upload(self, uploads: dict[str, str],
                fence: Callable[[], None] | None) -> list[tuple[str, str, int, str]]:
        phases: list[list[Upload]] = [[], [], []]
        for relative, path in sorted(uploads.items()):
            upload = Upload.of(self.prefix + relative, path)
            phases[upload_phase(relative, upload.kind)].append(upload)
        rows: list[tuple[str, str, int, str]] = []
        lock = threading.Lock()

        def put(upload: Upload) -> None:
            digest, size = self.bucket.put(upload)
            with lock:
                rows.append((upload.key, digest, size, upload.content_type))

        for phase in phases:
            self.bucket.run(phase, put, fence)
        return rows

    def _variants_turned_off(self) -> None:
        """`precompressed` turned off: the variants the bucket holds are deleted."""
        recorded = self._meta()
        if self.config.precompressed or not recorded or not recorded.get("precompressed"):
            return
        if not self._trusted():
            return
        for key in self._load():
            relative = key.removeprefix(self.prefix)
            if relative.endswith(tuple(ENCODINGS)):
                self._removals.setdefault(relative, None)

    def _record(self, rows: list[tuple[str, str, int, str]], removed: list[str]) -> None:
        """The manifest's changes, in the build's transaction (it commits after)."""
        if not self._trusted():
            self.store.delete_manifest(list(self.store.manifest()))
        self.store.delete_manifest(removed)
        self.store.put_manifest(rows)
        identity = self._identity()
        if self._meta() != identity:
            self.store.set_meta(META, json.dumps(identity, sort_keys=True))
        self._recorded, self._held = identity, None

    def _reset(self) -> None:
        self._staged.clear()
        self._removals.clear()
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None

    def discard(self) -> None:
        self._reset()
        self._held = None
        self.bucket.close()
