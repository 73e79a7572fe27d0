"""Output locations on any filesystem: a local folder, ``s3://bucket/prefix``, ``gs://bucket/prefix`` (``pyarrow.fs``),
or any other scheme fsspec knows.

A :class:`Location` is the root of one output (shards, manifest, exports). It is a plain string on the wire (it
pickles as its URI), so the write tasks on every node of a Ray cluster open the same location themselves.

Credentials and endpoints come only from the standard environment of the process that opens the location
(``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``, an instance profile, ``GOOGLE_APPLICATION_CREDENTIALS``,
``STORAGE_EMULATOR_HOST`` for a GCS emulator, ...): a URI
carrying credentials or options (``s3://key:secret@bucket``, ``?endpoint_override=``) is refused.

Publishing is atomic everywhere: :meth:`Location.publish` writes the whole file under a hidden temporary name next to
its final name (``dir/.name.<random>.tmp``), then renames it (local: fsync + ``os.replace``; object stores: a
server-side copy to the final key, then the temporary key is deleted). A reader therefore sees either no file or the
complete one, never a prefix of it; dataset readers (pyarrow, DuckDB, ``datasets``) skip names starting with ``.``.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable
from urllib.parse import urlsplit

__all__ = ["StorageError", "Location", "Published", "open_location", "TMP_SUFFIX", "is_temp_name"]

TMP_SUFFIX = ".tmp"
_CHUNK = 8 << 20
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "GOOGLE_APPLICATION_CREDENTIALS")
_WHAT_TO_DO = "pass a writable location with --output (or output.dir)"


class StorageError(Exception):
    """An output location that cannot be used (unwritable folder, missing bucket, refused credentials); the message
    names the location and what to do."""


@dataclass(frozen=True)
class Published:
    """A file published under its final name."""

    path: str  # relative to the location's root
    size: int
    sha256: str


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :meth:`Location.publish`'s temporary names."""
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


def _redact(text: object) -> str:
    s = str(text)
    for name in _SECRET_ENV:
        v = os.environ.get(name, "")
        if len(v) >= 6:
            s = s.replace(v, "***")
    return s


def _endpoint() -> str:
    url = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        return "AWS S3"
    p = urlsplit(url)
    return f"{p.scheme}://{p.hostname}{f':{p.port}' if p.port else ''}" if p.hostname else url


def _split(uri: str) -> tuple[str, str]:
    """(scheme, path) of a URI or local path; scheme '' for local paths (``file://`` included)."""
    if "://" not in uri:
        return "", uri
    p = urlsplit(uri)
    scheme = p.scheme.lower()
    if p.username or p.password or "@" in p.netloc:
        shown = f"{scheme}://***@{p.netloc.rsplit('@', 1)[-1]}{p.path}"
        raise StorageError(f"{shown}: credentials do not belong in the output location; set them in the "
                           "environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, an instance profile, "
                           "GOOGLE_APPLICATION_CREDENTIALS) and pass the bare URI")
    if p.query or p.fragment:
        raise StorageError(f"{uri}: options in the output URI are not accepted (endpoint and region come from "
                           "AWS_ENDPOINT_URL / AWS_DEFAULT_REGION in the environment); pass the bare URI")
    if scheme == "file":
        return "", p.path
    if not p.netloc:
        raise StorageError(f"{uri}: no bucket in the URI; write it as {scheme}://<bucket>/<prefix>")
    return scheme, f"{p.netloc}{p.path}".rstrip("/")


@lru_cache(maxsize=16)
def _remote_fs(scheme: str, bucket: str, endpoint: str | None = None):
    """One filesystem object per (scheme, bucket, endpoint) and process (S3 resolves the bucket's region once).
    For S3 ``endpoint`` only keys the cache (pyarrow reads it from the environment); for GCS it is
    ``STORAGE_EMULATOR_HOST``, the variable Google's client libraries read to talk to an emulator (anonymous)."""
    import pyarrow.fs as pafs

    if scheme in ("gs", "gcs") and endpoint:
        e = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        return pafs.GcsFileSystem(anonymous=True, scheme=e.scheme or "http", endpoint_override=e.netloc)

    try:
        fs, _ = pafs.FileSystem.from_uri(f"{scheme}://{bucket}/")
        return fs
    except Exception as e:  # noqa: BLE001 - pyarrow: unknown scheme (ArrowInvalid) or a region lookup (OSError)
        if type(e).__name__ != "ArrowInvalid" or "nrecognized filesystem" not in str(e):
            raise
    try:
        import fsspec
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(fsspec.filesystem(scheme)))
    except (ImportError, ValueError) as e:
        raise StorageError(f"{scheme}://{bucket}: no filesystem for the scheme {scheme!r} ({e}); use a local "
                           "path, s3:// or gs://") from None


class Location:
    """The root of one output. ``uri``: an absolute local path, or ``scheme://bucket/prefix``. Relative paths
    (``rel``) use ``/``."""

    def __init__(self, uri: str | os.PathLike):
        raw = os.fspath(uri)
        scheme, path = _split(raw)
        self.scheme = scheme
        if scheme:
            self.root = path
            self.uri = f"{scheme}://{path}"
        else:
            self.root = str(Path(path).expanduser().absolute())
            self.uri = self.root

    def __reduce__(self):
        return (Location, (self.uri,))

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"

    def __str__(self) -> str:
        return self.uri

    def __eq__(self, other) -> bool:
        return isinstance(other, Location) and other.uri == self.uri

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def local(self) -> bool:
        return not self.scheme

    @property
    def bucket(self) -> str:
        return self.root.split("/", 1)[0] if self.scheme else ""

    @property
    def fs(self):
        """The ``pyarrow.fs.FileSystem`` of this location (for readers: ``pq.ParquetFile(loc.open_input(rel))``)."""
        if self.local:
            import pyarrow.fs as pafs

            return pafs.LocalFileSystem()
        try:
            endpoint = (os.environ.get("STORAGE_EMULATOR_HOST") if self.scheme in ("gs", "gcs") else
                        os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
            return _remote_fs(self.scheme, self.bucket, endpoint)
        except StorageError:
            raise
        except Exception as e:  # noqa: BLE001 - region lookup, DNS, credentials
            raise StorageError(self._explain(e, "cannot open")) from None

    def path(self, rel: str = "") -> str:
        """The filesystem path of ``rel`` (a local path, or ``bucket/prefix/rel``)."""
        rel = str(rel).strip("/")
        if not rel:
            return self.root
        return os.path.join(self.root, *rel.split("/")) if self.local else f"{self.root}/{rel}"

    def display(self, rel: str = "") -> str:
        """``rel`` as the user would write it (a local path or a URI)."""
        return self.path(rel) if self.local else (f"{self.uri}/{rel.strip('/')}" if rel else self.uri)

    def local_path(self, rel: str = "") -> Path:
        if not self.local:
            raise ValueError(f"{self.uri} is not a local folder")
        return Path(self.path(rel))

    # -------------------------------------------------------------------------------------------- checks
    def _explain(self, e: BaseException, doing: str) -> str:
        msg = _redact(e)
        if self.scheme in ("s3", "gs", "gcs") and ("NO_SUCH_BUCKET" in msg or "NoSuchBucket" in msg
                                                     or "RESOURCE_NOT_FOUND" in msg or "does not exist" in msg):
            return self._no_bucket()
        where = f" at {_endpoint()}" if self.scheme == "s3" else ""
        return f"output location {self.uri}{where}: {doing} ({msg.splitlines()[0][:300]}); {_WHAT_TO_DO}"

    def _no_bucket(self) -> str:
        where = f" at {_endpoint()}" if self.scheme == "s3" else ""
        make = (f"gcloud storage buckets create gs://{self.bucket}" if self.scheme in ("gs", "gcs") else
                f"aws s3 mb {self.scheme}://{self.bucket}")
        return (f"output location {self.uri}: bucket {self.bucket!r} does not exist{where}; create it (e.g. "
                f"`{make}`) or {_WHAT_TO_DO}")

    def check_writable(self) -> None:
        """Raise :class:`StorageError` unless files can be published here (the folder is created if missing; on an
        object store the bucket must exist). Leaves no file behind (pyarrow may leave an empty folder marker)."""
        probe = f".sdg-write-probe-{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"
        if self.local:
            root = Path(self.root)
            if root.exists() and not root.is_dir():
                raise StorageError(f"output location {self.root} is a file, not a folder; {_WHAT_TO_DO}")
            created = [p for p in (root, *root.parents) if not p.exists()]
            try:
                root.mkdir(parents=True, exist_ok=True)
                (root / probe).write_bytes(b"")
                (root / probe).unlink()
            except OSError as e:
                reason = e.strerror or type(e).__name__
                raise StorageError(f"output location {self.root} is not writable ({reason}: "
                                   f"{e.filename or self.root}); {_WHAT_TO_DO}") from None
            finally:
                for p in created:  # folders appear with the first file published, not before
                    try:
                        p.rmdir()
                    except OSError:
                        break
            return
        import pyarrow.fs as pafs

        fs = self.fs
        try:
            info = fs.get_file_info(self.bucket)
        except Exception as e:  # noqa: BLE001
            raise StorageError(self._explain(e, "cannot reach the bucket")) from None
        if info.type == pafs.FileType.NotFound:
            raise StorageError(self._no_bucket())
        try:
            with fs.open_output_stream(self.path(probe)) as f:
                f.write(b"")
            fs.delete_file(self.path(probe))
        except Exception as e:  # noqa: BLE001
            raise StorageError(self._explain(e, "cannot write")) from None

    # -------------------------------------------------------------------------------------------- reading
    def exists(self, rel: str) -> bool:
        if self.local:
            return os.path.isfile(self.path(rel))
        import pyarrow.fs as pafs

        return self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of ``rel``; FileNotFoundError when there is no such file."""
        if self.local:
            return Path(self.path(rel)).read_bytes()
        if not self.exists(rel):
            raise FileNotFoundError(f"{self.display(rel)}: no such file")
        with self.fs.open_input_stream(self.path(rel)) as f:
            return f.read()

    def open_input(self, rel: str):
        """A random-access file of ``rel`` (for ``pyarrow.parquet.ParquetFile``)."""
        return self.fs.open_input_file(self.path(rel))

    def list(self, rel_dir: str = "") -> dict[str, int]:
        """Every file under ``rel_dir`` (recursively): {path relative to the root: size}. Empty if it is absent."""
        base = self.path(rel_dir)
        out: dict[str, int] = {}
        if self.local:
            if not os.path.isdir(base):
                return out
            for d, _, files in os.walk(base):
                for name in files:
                    p = os.path.join(d, name)
                    try:
                        out[os.path.relpath(p, self.root).replace(os.sep, "/")] = os.path.getsize(p)
                    except FileNotFoundError:  # removed meanwhile
                        pass
            return out
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        root = self.root.strip("/") + "/"
        for info in infos:
            path = info.path.lstrip("/")
            if info.type == pafs.FileType.File and path.startswith(root):
                out[path[len(root):]] = int(info.size or 0)
        return out

    # -------------------------------------------------------------------------------------------- writing
    def _temp_rel(self, rel: str) -> str:
        p = PurePosixPath(rel)
        return str(p.with_name(f".{p.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}"))

    def publish(self, rel: str, write: Callable[[BinaryIO], None]) -> Published:
        """Publish the file ``rel`` atomically: ``write(f)`` writes its whole content to a binary file object; only
        then does the file appear under its final name (replacing an older one). Returns its size and sha256."""
        rel = str(rel).strip("/")
        if self.local:
            final = Path(self.path(rel))
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(self.path(self._temp_rel(rel)))
            try:
                with open(tmp, "wb") as f:
                    write(f)
                    f.flush()
                    os.fsync(f.fileno())
                size, digest = _digest(tmp)
                os.chmod(tmp, 0o644)
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            return Published(rel, size, digest)
        # object store: spool locally (hash + size), upload under a temp key, then copy it to the final key
        fd, spool = tempfile.mkstemp(prefix="sdg-publish-", suffix=TMP_SUFFIX)
        tmp_key = self.path(self._temp_rel(rel))
        fs = self.fs
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            size, digest = _digest(spool)
            with open(spool, "rb") as src, fs.open_output_stream(tmp_key) as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
            fs.move(tmp_key, self.path(rel))
        except BaseException:
            _quiet(fs.delete_file, tmp_key)
            raise
        finally:
            _quiet(os.unlink, spool)
        return Published(rel, size, digest)

    def write_bytes(self, rel: str, data: bytes) -> Published:
        return self.publish(rel, lambda f: f.write(data))

    def publish_file(self, local_file: str | os.PathLike, rel: str, move: bool = False) -> Published:
        """Publish a local file as ``rel``; ``move``: the file may be consumed (on a local location on the same
        filesystem it is fsynced and renamed into place instead of copied)."""
        if move and self.local:
            final = Path(self.path(rel))
            final.parent.mkdir(parents=True, exist_ok=True)
            with open(local_file, "rb+") as f:
                os.fsync(f.fileno())
            try:
                os.chmod(local_file, 0o644)
                os.replace(local_file, final)
            except OSError as e:
                if e.errno != 18:  # EXDEV (another filesystem): copy instead
                    raise
            else:
                size, digest = _digest(final)
                return Published(str(rel).strip("/"), size, digest)

        def copy(f):
            with open(local_file, "rb") as src:
                shutil.copyfileobj(src, f, _CHUNK)

        return self.publish(rel, copy)

    def delete(self, rel: str) -> None:
        """Delete the file ``rel`` if it exists."""
        if self.local:
            Path(self.path(rel)).unlink(missing_ok=True)
            return
        import pyarrow.fs as pafs

        if self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File:
            self.fs.delete_file(self.path(rel))

    def delete_tree(self, rel_dir: str) -> None:
        """Delete the folder ``rel_dir`` with everything under it (nothing if it is absent)."""
        if not str(rel_dir).strip("/"):
            raise ValueError("refusing to delete the whole location")
        if self.local:
            shutil.rmtree(self.path(rel_dir), ignore_errors=True)
            return
        for rel in self.list(rel_dir):
            self.fs.delete_file(self.path(rel))


def _digest(path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _quiet(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:  # noqa: BLE001 - clean-up after a failure that is being raised anyway
        pass


def open_location(uri: str | os.PathLike | Location) -> Location:
    """The :class:`Location` of a local path or URI (no I/O: nothing is created or contacted until used)."""
    return uri if isinstance(uri, Location) else Location(uri)
