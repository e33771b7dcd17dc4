"""Objects in an S3 bucket (scheme ``s3``), through boto3.

:class:`S3Storage` maps the storage path ``/vo/data/f`` to the key
``<prefix>/vo/data/f`` of its bucket; "directories" are key prefixes ending
in ``/`` (S3 has none of its own). ``endpoint_url`` reaches any S3 service
(Ceph RGW, MinIO, EOS, moto); without it, AWS.

Credentials are never configuration: boto3 finds them the usual way
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, the
instance role, ...), or the caller hands in a ready ``boto3`` session.

Checksums: :meth:`S3Storage.put` computes the file's adler32 and stores it
as the object's user metadata ``adler32`` (the ``x-amz-meta-adler32``
header), uploads big files in parts with boto3's transfer manager, and
checks the stored size and checksum afterwards. :meth:`S3Storage.stat`
returns that checksum, and :meth:`S3Storage.get` verifies every download
against it (:class:`~dirac_core.errors.ChecksumMismatch`, no partial file
left). Objects written by other tools, without the metadata, are
downloaded unverified and ``stat`` reports no checksum for them.

Server-side copies (:class:`~dirac_core.plugins.storage.ThirdPartyCopy`):
:meth:`S3Storage.copy_from` copies an object of its own bucket with S3's
``CopyObject`` (``UploadPartCopy`` from ``multipart_threshold`` bytes on),
so the bytes never leave the S3 service; the adler32 metadata goes with them
and the copy's size and checksum are checked afterwards. An ``s3://`` URL
does not name its endpoint, so only URLs of the driver's own bucket (as
between SEs sharing a bucket under different prefixes) are taken to be on
the same endpoint; objects of other buckets are not copied server-side.

boto3 is imported on first use: this module imports without it and a
missing boto3 raises :class:`~dirac_core.errors.PluginUnavailable` naming
the ``s3`` extra. Every botocore error becomes a
:class:`~dirac_core.errors.StorageError` (``NotFound`` for a missing key)
carrying ``url``; a connection failure says the endpoint is unreachable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Self

from dirac_core.checksums import adler32_file, normalise_adler32
from dirac_core.config.sections import ProtocolSection, S3Protocol
from dirac_core.errors import ChecksumMismatch, ConfigError, DiracError, NotFound, PluginError, StorageError
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import import_backend
from dirac_core.plugins.storage import FileStat, StorageProtocol
from dirac_plugins_se._local_files import partial_file, write_chunks
from dirac_plugins_se._path_rules import checked_path

__all__ = ["CHECKSUM_METADATA", "S3Storage"]

log = logging.getLogger(__name__)

#: The user-metadata key keeping an object's adler32 (sent as ``x-amz-meta-adler32``).
CHECKSUM_METADATA = "adler32"
_MIB = 1 << 20
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_DENIED_CODES = frozenset({"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"})
_INT_OPTIONS = ("multipart_threshold", "multipart_chunksize", "max_attempts")


class S3Storage(StorageProtocol):
    """Files as objects under ``prefix`` in ``bucket``.

    Files of ``multipart_threshold`` bytes or more are uploaded in parts of
    ``multipart_chunksize`` bytes. ``max_attempts`` bounds botocore's
    retries of one request (``standard`` retry mode), ``connect_timeout`` and
    ``read_timeout`` (seconds) bound each attempt. ``addressing_style`` is
    ``auto``, ``path`` or ``virtual``. ``session`` is a ``boto3.Session`` to
    use instead of a new one reading the environment. One boto3 client,
    shared by every thread, is made on first use and closed by
    :meth:`close`.
    """

    scheme: ClassVar[str] = "s3"

    def __init__(self, *, bucket: str, prefix: str = "", region: str | None = None,
                 endpoint_url: str | None = None, multipart_threshold: int = 64 * _MIB,
                 multipart_chunksize: int = 64 * _MIB, max_attempts: int = 3,
                 connect_timeout: float = 10.0, read_timeout: float = 60.0,
                 addressing_style: str = "auto", session: Any = None) -> None:
        """Raises ``ValueError`` for an empty bucket, a bad prefix or a non-positive size or count."""
        if not bucket or "/" in bucket:
            raise ValueError(f"not an S3 bucket name: {bucket!r}")
        try:
            clean_prefix = checked_path("/" + prefix).lstrip("/")
        except StorageError as exc:
            raise ValueError(f"not a key prefix: {prefix!r}") from exc
        if min(multipart_threshold, multipart_chunksize, max_attempts) <= 0:
            raise ValueError("multipart sizes and max_attempts must be positive")
        if addressing_style not in ("auto", "path", "virtual"):
            raise ValueError(f"addressing_style must be auto, path or virtual, not {addressing_style!r}")
        self.bucket = bucket
        self.prefix = clean_prefix
        self.region = region
        self.endpoint_url = endpoint_url
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.addressing_style = addressing_style
        self._session = session
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_section(cls, section: ProtocolSection) -> Self:
        """The driver for an :class:`~dirac_core.config.sections.S3Protocol` section.

        ``path`` is the key prefix. Options: ``multipart_threshold``,
        ``multipart_chunksize`` (bytes), ``max_attempts`` (integers) and
        ``addressing_style``. Raises :class:`PluginError` for another kind of
        section and :class:`ConfigError` for a bad option.
        """
        if not isinstance(section, S3Protocol):
            raise PluginError(f"{cls.__name__} needs an S3Protocol section, not {type(section).__name__}",
                              driver=cls.__name__)
        problems: list[tuple[str, str]] = []
        kwargs: dict[str, Any] = {}
        for key, value in section.options.items():
            if key in _INT_OPTIONS and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                problems.append((f"options.{key}", f"expected a positive integer, got {value!r}"))
            elif key == "addressing_style" and value not in ("auto", "path", "virtual"):
                problems.append((f"options.{key}", f"expected auto, path or virtual, got {value!r}"))
            elif key not in (*_INT_OPTIONS, "addressing_style"):
                problems.append((f"options.{key}", "unknown option of an S3 protocol"))
            else:
                kwargs[key] = value
        if problems:
            raise ConfigError(problems)
        return cls(bucket=section.bucket, prefix=section.path, region=section.region,
                   endpoint_url=section.endpoint_url, **kwargs)

    # -- backend -----------------------------------------------------------------

    def _boto3(self, module: str = "boto3") -> ModuleType:
        return import_backend(module, group=PluginGroup.STORAGE_PROTOCOLS, name="s3")

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                config = self._boto3("botocore.config").Config(
                    connect_timeout=self.connect_timeout, read_timeout=self.read_timeout,
                    retries={"max_attempts": self.max_attempts, "mode": "standard"},
                    s3={"addressing_style": self.addressing_style})
                session = self._session or self._boto3("boto3.session").Session()
                self._client = session.client("s3", region_name=self.region,
                                              endpoint_url=self.endpoint_url, config=config)
            return self._client

    def close(self) -> None:
        """Close the client's connection pool; the next call makes a new client."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    @contextlib.contextmanager
    def _errors(self, action: str, url: str) -> Iterator[None]:
        """Translate boto3/botocore exceptions raised in the block into ours."""
        try:
            yield
        except DiracError:
            raise
        except Exception as exc:
            error = self._translate(exc, action, url)
            if error is None:
                raise
            raise error from exc

    def _translate(self, exc: BaseException, action: str, url: str) -> DiracError | None:
        """Our error for a boto3/botocore exception; None for anything else."""
        botocore = self._boto3("botocore.exceptions")
        boto3_errors = self._boto3("boto3.exceptions")
        if isinstance(exc, boto3_errors.S3UploadFailedError) and exc.__context__ is not None:
            exc = exc.__context__  # upload_file wraps the ClientError it caught
        endpoint = self.endpoint_url or "AWS S3"
        if isinstance(exc, botocore.ClientError):
            error = exc.response.get("Error", {})
            return self._refused(str(error.get("Code", "")), str(error.get("Message") or ""), action, url)
        if isinstance(exc, botocore.ConnectionError):
            return StorageError(f"cannot {action} {url}: S3 endpoint {endpoint} is unreachable: {exc}",
                                url=url, endpoint=endpoint)
        if isinstance(exc, botocore.NoCredentialsError | botocore.PartialCredentialsError):
            return StorageError(f"cannot {action} {url}: no usable S3 credentials in the environment "
                                f"({exc})", url=url)
        if isinstance(exc, botocore.BotoCoreError | boto3_errors.Boto3Error):
            return StorageError(f"cannot {action} {url}: {exc}", url=url)
        return None

    def _refused(self, code: str, detail: str, action: str, url: str) -> DiracError:
        """Our error for an S3 error response with ``code``."""
        endpoint = self.endpoint_url or "AWS S3"
        if code in _NOT_FOUND_CODES:
            return NotFound(f"no file {url}", url=url)
        if code == "NoSuchBucket":
            reason = f"bucket {self.bucket!r} does not exist at {endpoint}"
        elif code in _DENIED_CODES:
            reason = f"access denied by {endpoint} ({detail or code})"
        else:
            reason = f"{endpoint} answered {code}: {detail or code}"
        return StorageError(f"cannot {action} {url}: {reason}", url=url, code=code)

    # -- paths -------------------------------------------------------------------

    def _key(self, path: str) -> str:
        """The object key of ``path``; ``""`` for the root without a prefix."""
        relative = checked_path(path).lstrip("/")
        return "/".join(part for part in (self.prefix, relative) if part)

    def url(self, path: str) -> str:
        """``s3://<bucket>/<key>``; checks ``path``."""
        return f"s3://{self.bucket}/{self._key(path)}"

    def _recorded(self, metadata: dict[str, str], url: str) -> str | None:
        value = metadata.get(CHECKSUM_METADATA)
        if value is None:
            return None
        try:
            return normalise_adler32(value)
        except ValueError:
            log.warning("ignoring the metadata %s=%r of %s: not an adler32", CHECKSUM_METADATA, value, url)
            return None

    # -- operations --------------------------------------------------------------

    def put(self, source: Path, path: str) -> FileStat:
        """Upload the local ``source`` to ``path`` with its adler32 as metadata (replacing an old object).

        Files from ``multipart_threshold`` bytes on go up in parts. Raises
        :class:`StorageError` for an unreadable source or a failed upload,
        :class:`ChecksumMismatch` when the stored object's size or checksum
        differs from the source's afterwards.
        """
        key = self._key(path)
        url = self.url(path)
        if not key:
            raise StorageError(f"cannot write the root of {url}", url=url)
        try:
            size = os.stat(source).st_size
            checksum = adler32_file(source)
        except OSError as exc:
            raise StorageError(f"cannot read local file {source} to upload to {url}: {exc.strerror or exc}",
                               url=url, source=str(source), errno=exc.errno) from exc
        client = self._get_client()
        transfer = self._boto3("boto3.s3.transfer").TransferConfig(
            multipart_threshold=self.multipart_threshold, multipart_chunksize=self.multipart_chunksize)
        with self._errors("upload", url):
            client.upload_file(os.fspath(source), self.bucket, key, Config=transfer,
                               ExtraArgs={"Metadata": {CHECKSUM_METADATA: checksum}})
            head = client.head_object(Bucket=self.bucket, Key=key)
        stored = self._recorded(head.get("Metadata", {}), url)
        if head["ContentLength"] != size or stored != checksum:
            raise ChecksumMismatch(
                f"{url} was stored with {head['ContentLength']} bytes and adler32 {stored}, "
                f"not {size} bytes and {checksum}", url=url, expected=checksum, actual=stored)
        return FileStat(size=size, checksum=checksum)

    def get(self, path: str, destination: Path) -> FileStat:
        """Download ``path`` into the local file ``destination``, verified against the stored adler32.

        Raises :class:`NotFound` for a missing object, :class:`ChecksumMismatch`
        when the bytes differ from the stored checksum (``destination`` is
        then untouched and no partial file remains), :class:`StorageError` for
        any other failure.
        """
        key = self._key(path)
        url = self.url(path)
        destination = Path(destination)
        if not key:
            raise StorageError(f"cannot read {url}: it is a directory", url=url)
        client = self._get_client()
        with self._errors("download", url):
            response = client.get_object(Bucket=self.bucket, Key=key)
            body = response["Body"]
            recorded = self._recorded(response.get("Metadata", {}), url)
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with partial_file(destination) as (out, part):
                    size, checksum = write_chunks(body.iter_chunks(chunk_size=_MIB), out)
                    if recorded is not None and checksum != recorded:
                        raise ChecksumMismatch(
                            f"{url} downloads with adler32 {checksum} but was stored with {recorded}",
                            url=url, expected=recorded, actual=checksum)
                    os.replace(part, destination)
            except OSError as exc:
                raise StorageError(f"cannot download {url} into {destination}: {exc.strerror or exc}",
                                   url=url, destination=str(destination), errno=exc.errno) from exc
            finally:
                body.close()
        return FileStat(size=size, checksum=checksum)

    def can_copy_from(self, source_url: str) -> bool:
        """Whether ``source_url`` names an object of this driver's bucket (``s3://<bucket>/<key>``)."""
        bucket, _, key = source_url.removeprefix("s3://").partition("/")
        return source_url.startswith("s3://") and bucket == self.bucket and bool(key)

    def copy_from(self, source_url: str, path: str) -> FileStat:
        """Copy the object at ``source_url`` (of this bucket) to ``path`` inside the S3 service.

        The source's adler32 metadata is given to the copy. Raises :class:`NotFound` when the
        source does not exist, :class:`ChecksumMismatch` (after removing the copy) when the copy's
        size or checksum differs from the source's, :class:`StorageError` for a URL of another
        bucket or any failure.
        """
        key, url = self._key(path), self.url(path)
        if not key or not self.can_copy_from(source_url):
            raise StorageError(f"cannot copy {source_url} to {url} inside S3 bucket {self.bucket}",
                               url=url, source=source_url)
        source_key = source_url.removeprefix(f"s3://{self.bucket}/")
        client = self._get_client()
        transfer = self._boto3("boto3.s3.transfer").TransferConfig(
            multipart_threshold=self.multipart_threshold, multipart_chunksize=self.multipart_chunksize)
        with self._errors("copy", source_url):
            head = client.head_object(Bucket=self.bucket, Key=source_key)
        recorded = self._recorded(head.get("Metadata", {}), source_url)
        metadata = {CHECKSUM_METADATA: recorded} if recorded else {}
        extra = {"MetadataDirective": "REPLACE", "Metadata": metadata}
        with self._errors(f"copy {source_url} to", url):
            client.copy({"Bucket": self.bucket, "Key": source_key}, self.bucket, key, ExtraArgs=extra,
                        Config=transfer)
            stored = client.head_object(Bucket=self.bucket, Key=key)
        copied = self._recorded(stored.get("Metadata", {}), url)
        if stored["ContentLength"] != head["ContentLength"] or copied != recorded:
            with contextlib.suppress(StorageError):
                self.remove(path)
            raise ChecksumMismatch(f"{url} was copied with {stored['ContentLength']} bytes and adler32 "
                                   f"{copied}, not {head['ContentLength']} bytes and {recorded}",
                                   url=url, expected=recorded, actual=copied)
        return FileStat(size=stored["ContentLength"], checksum=copied)

    def _has_children(self, key: str) -> bool:
        prefix = f"{key}/" if key else ""
        listing = self._get_client().list_objects_v2(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
        return bool(listing.get("KeyCount", 0))

    def stat(self, path: str) -> FileStat:
        """Size and stored adler32 of the object at ``path``; a key prefix is a directory.

        Raises :class:`NotFound` when neither an object nor a prefix exists.
        """
        key = self._key(path)
        url = self.url(path)
        client = self._get_client()
        with self._errors("stat", url):
            if key:
                try:
                    head = client.head_object(Bucket=self.bucket, Key=key)
                except Exception as exc:
                    if not isinstance(self._translate(exc, "stat", url), NotFound):
                        raise
                else:
                    return FileStat(size=head["ContentLength"],
                                    checksum=self._recorded(head.get("Metadata", {}), url))
            if self._has_children(key):
                return FileStat(size=0, is_dir=True)
        raise NotFound(f"no file {url}", url=url)

    def remove(self, path: str) -> None:
        """Delete the object at ``path``; a missing object counts as removed.

        A key prefix ("directory") is not an object: removing it deletes
        nothing. Raises :class:`StorageError` when S3 refuses.
        """
        key = self._key(path)
        url = self.url(path)
        if not key:
            return
        with self._errors("remove", url):
            self._get_client().delete_object(Bucket=self.bucket, Key=key)

    def listdir(self, path: str) -> list[str]:
        """Sorted names directly under the prefix of ``path`` (objects and sub-prefixes).

        Raises :class:`NotFound` when nothing is stored under it.
        """
        key = self._key(path)
        url = self.url(path)
        prefix = f"{key}/" if key else ""
        names: set[str] = set()
        with self._errors("list", url):
            pages = self._get_client().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/")
            for page in pages:
                names.update(entry["Prefix"][len(prefix):].rstrip("/")
                             for entry in page.get("CommonPrefixes", ()))
                names.update(entry["Key"][len(prefix):] for entry in page.get("Contents", ()))
        names.discard("")  # a folder-marker object named like the prefix itself
        if not names:
            raise NotFound(f"no directory {url}", url=url)
        return sorted(names)
