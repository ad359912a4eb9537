"""A WARC archive of every fetched response, so articles can be re-extracted without re-fetching.

Each response (feed or page) becomes one WARC `response` record: the HTTP status line and
headers, then the body as the pipeline received it. A feed polled again with the same body
gets a `revisit` record (headers and payload digest, no body); a 304 carries no body and is
not archived. The body is stored *decoded* (gzip already
inflated by the fetcher, which never keeps the wire bytes), so `Content-Encoding` and
`Transfer-Encoding` are kept as `X-Archive-Orig-…` headers and `Content-Length` is the stored
length; any WARC tool then reads the record correctly.

Files live under `<data_dir>/warc/`, one writer per process (its own file name, so processes
never interleave), and a new file starts when the current one passes `max_file_bytes`. Every
record is a gzip member of its own, so `file.warc.gz#offset` (the `raw_location` an Article
records, relative to the data dir) can be read back alone with `read_record`.

A record is built in memory and appended with one write; only then is its location returned,
so an article never points at a half-written record. When the disk is full (ENOSPC, or less
than `min_free_bytes` would be left) the partial record is cut off again and, per
`on_disk_full`, ingestion either continues without raw pages (`continue`: articles get no
`raw_location`, a warning is logged) or stops with `ArchiveUnavailable` (`stop`).
"""

from __future__ import annotations

import atexit
import base64
import errno
import hashlib
import io
import logging
import os
import secrets
import shutil
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsdesk.errors import NewsdeskError
from newsdesk.fetch import FetchedPage
from newsdesk.settings import Settings

log = logging.getLogger(__name__)

ARCHIVE_DIR = "warc"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
_RENAMED_HEADERS = ("content-encoding", "transfer-encoding")
_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class ArchiveSettings(BaseSettings):
    """`NEWSDESK_ARCHIVE_*` environment settings."""

    model_config = SettingsConfigDict(env_prefix="NEWSDESK_ARCHIVE_", extra="ignore")

    enabled: bool = True
    max_file_bytes: int = 1024 * 1024 * 1024
    min_free_bytes: int = 256 * 1024 * 1024
    on_disk_full: Literal["continue", "stop"] = "continue"


class ArchiveUnavailable(NewsdeskError):
    """The archive cannot take a record (disk full, not writable) and the policy is `stop`."""


class ArchiveError(NewsdeskError):
    """A `raw_location` that does not lead to a readable response record."""


class ArchivedPage(FetchedPage):
    """A fetched page plus where its raw response is archived (None when it is not)."""

    raw_location: str | None = None


@dataclass(frozen=True)
class ArchivedResponse:
    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    warc_date: str

    def as_page(self) -> FetchedPage:
        """The response as the fetcher returned it, to run extraction on it again."""
        content_type = self.headers.get("content-type")
        mime, _, params = (content_type or "").partition(";")
        charset = None
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                charset = value.strip().strip('"').lower()
        try:
            fetched_at = datetime.fromisoformat(self.warc_date.replace("Z", "+00:00"))
        except ValueError:
            fetched_at = datetime.now(UTC)
        return FetchedPage(
            url=self.url,
            requested_url=self.url,
            status=self.status,
            headers=self.headers,
            content=self.content,
            content_type=mime.strip().lower() or None,
            charset=charset,
            fetched_at=fetched_at,
            elapsed=0.0,
        )


def _http_headers(page: FetchedPage) -> StatusAndHeaders:
    try:
        phrase = HTTPStatus(page.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers: list[tuple[str, str]] = []
    for name, value in page.headers.items():
        if name in _RENAMED_HEADERS or name == "content-length":
            headers.append((f"x-archive-orig-{name}", value))
        else:
            headers.append((name, value))
    headers.append(("content-length", str(len(page.content))))
    return StatusAndHeaders(f"{page.status} {phrase}", headers, protocol="HTTP/1.1")


def payload_digest(content: bytes) -> str:
    """The WARC payload digest (`sha1:` + base32), as WARC tools compute it."""
    return "sha1:" + base64.b32encode(hashlib.sha1(content).digest()).decode("ascii")  # noqa: S324


GZIP_LEVEL = 6
"""zlib's default. warcio compresses at 9, which costs 2.5× the CPU (4.8 against 1.9 ms for a
150 KB page) for files 4% smaller, and runs on the fetching threads of every ingest."""


def record_bytes(page: FetchedPage, *, revisit: bool = False) -> bytes:
    """One gzipped WARC/1.1 record for `page`: a `response`, or with `revisit` a `revisit`
    record (identical-payload-digest profile: the headers, no body) for a body archived before.
    """
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False, warc_version="1.1")
    fetched_at = page.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    warc_headers = {"WARC-Date": fetched_at}
    if page.requested_url != page.url:
        warc_headers["WARC-Newsdesk-Requested-URI"] = page.requested_url
    if revisit:
        warc_headers.update(
            {
                "WARC-Profile": REVISIT_PROFILE,
                "WARC-Refers-To-Target-URI": page.url,
                "WARC-Payload-Digest": payload_digest(page.content),
            }
        )
        record = writer.create_warc_record(
            page.url, "revisit", http_headers=_http_headers(page), warc_headers_dict=warc_headers
        )
    else:
        record = writer.create_warc_record(
            page.url,
            "response",
            payload=io.BytesIO(page.content),
            length=len(page.content),
            http_headers=_http_headers(page),
            warc_headers_dict=warc_headers,
        )
    writer.write_record(record)
    gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return gz.compress(buf.getbuffer()) + gz.flush()


class WarcArchive:
    """Appends response records to size-rotated WARC files; thread-safe."""

    def __init__(
        self,
        data_dir: Path,
        *,
        max_file_bytes: int = ArchiveSettings.model_fields["max_file_bytes"].default,
        min_free_bytes: int = ArchiveSettings.model_fields["min_free_bytes"].default,
        on_disk_full: Literal["continue", "stop"] = "continue",
        prefix: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.directory = self.data_dir / ARCHIVE_DIR
        self.max_file_bytes = max_file_bytes
        self.min_free_bytes = min_free_bytes
        self.on_disk_full = on_disk_full
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self.prefix = prefix or f"newsdesk-{stamp}-{os.getpid()}-{secrets.token_hex(3)}"
        self.skipped = 0
        self._lock = threading.Lock()
        self._serial = 0
        self._file: BinaryIO | None = None  # unbuffered: a failed write leaves nothing pending
        self._path: Path | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, policy: ArchiveSettings | None = None
    ) -> WarcArchive:
        policy = policy or ArchiveSettings()
        return cls(
            settings.data_dir,
            max_file_bytes=policy.max_file_bytes,
            min_free_bytes=policy.min_free_bytes,
            on_disk_full=policy.on_disk_full,
        )

    def __enter__(self) -> WarcArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, page: FetchedPage, *, revisit: bool = False) -> str | None:
        """Archive `page`; its `raw_location`, or None when the disk is full and the policy
        is `continue` (ArchiveUnavailable when it is `stop`). `revisit` records only the
        headers of a response whose body is the same as one archived before."""
        data = record_bytes(page, revisit=revisit)
        with self._lock:
            try:
                return self._append(data)
            except OSError as exc:
                self._unavailable(f"cannot write to {self.directory}: {exc}", exc)
                return None

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def _append(self, data: bytes) -> str | None:
        fh, path = self._current(len(data))
        free = shutil.disk_usage(path.parent).free
        if free - len(data) < self.min_free_bytes:
            self._unavailable(
                f"disk full: {free // 2**20} MiB free at {path.parent}, "
                f"{self.min_free_bytes // 2**20} MiB must stay free"
            )
            return None
        offset = os.fstat(fh.fileno()).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[fh.write(view) or 0 :]
        except OSError as exc:
            self._cut(fh, offset)
            if exc.errno in _SPACE_ERRNOS:
                self._unavailable(f"disk full writing {path}: {exc.strerror}", exc)
                return None
            raise
        return f"{ARCHIVE_DIR}/{path.name}#{offset}"

    def _current(self, incoming: int) -> tuple[BinaryIO, Path]:
        if self._file is not None and self._path is not None:
            size = os.fstat(self._file.fileno()).st_size
            if size == 0 or size + incoming <= self.max_file_bytes:
                return self._file, self._path
            self._close_file()
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.prefix}-{self._serial:05d}.warc.gz"
        self._serial += 1
        self._file = path.open("ab", buffering=0)
        self._path = path
        return self._file, path

    def _cut(self, fh: BinaryIO, offset: int) -> None:
        """Drop a partly written record; a file that cannot be cut is not appended to again."""
        try:
            os.ftruncate(fh.fileno(), offset)
        except OSError:
            log.warning("cannot cut a partial WARC record off %s; starting a new file", self._path)
            self._close_file(sync=False)

    def _close_file(self, *, sync: bool = True) -> None:
        fh, self._file, self._path = self._file, None, None
        if fh is None:
            return
        try:
            if sync:
                os.fsync(fh.fileno())
        except OSError:
            pass
        finally:
            fh.close()

    def _unavailable(self, reason: str, cause: OSError | None = None) -> None:
        message = f"WARC archive unavailable: {reason}"
        if self.on_disk_full == "stop":
            raise ArchiveUnavailable(message) from cause
        self.skipped += 1
        if self.skipped == 1 or self.skipped % 100 == 0:
            log.warning("%s; ingesting without raw pages (%d so far)", message, self.skipped)


_shared: dict[Path, WarcArchive] = {}
_shared_lock = threading.Lock()


def shared_archive(settings: Settings) -> WarcArchive | None:
    """This process's archive under `settings.data_dir` (None when archiving is disabled)."""
    policy = ArchiveSettings()
    if not policy.enabled:
        return None
    key = Path(settings.data_dir).resolve()
    with _shared_lock:
        archive = _shared.get(key)
        if archive is None:
            archive = _shared[key] = WarcArchive.from_settings(settings, policy)
        return archive


@atexit.register
def _close_shared() -> None:
    with _shared_lock:
        for archive in _shared.values():
            archive.close()
        _shared.clear()


def archive_page(archive: WarcArchive | None, page: FetchedPage) -> ArchivedPage:
    """`page` with the location of its archived record (None without an archive)."""
    location = archive.write(page) if archive is not None else None
    return ArchivedPage(**dict(page), raw_location=location)


def read_record(data_dir: Path, location: str) -> ArchivedResponse:
    """The response archived at `location` (`warc/<file>#<offset>`, relative to `data_dir`)."""
    name, sep, offset_text = location.rpartition("#")
    if not sep or not offset_text.isdigit():
        raise ArchiveError(f"not a WARC location (expected file#offset): {location!r}")
    root = Path(data_dir).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise ArchiveError(f"WARC location outside the data directory: {location!r}")
    try:
        with path.open("rb") as fh:
            fh.seek(int(offset_text))
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    break
                return ArchivedResponse(
                    url=record.rec_headers.get_header("WARC-Target-URI") or "",
                    status=int(record.http_headers.get_statuscode() or 0),
                    headers={k.lower(): v for k, v in record.http_headers.headers},
                    content=record.raw_stream.read(),
                    warc_date=record.rec_headers.get_header("WARC-Date") or "",
                )
    except FileNotFoundError:
        raise ArchiveError(f"WARC file not found: {path}") from None
    except (OSError, ArchiveLoadFailed, ValueError) as exc:
        raise ArchiveError(f"cannot read the WARC record at {location}: {exc}") from None
    raise ArchiveError(f"no response record at {location}")
