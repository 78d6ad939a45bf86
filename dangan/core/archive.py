"""The ``Archive`` facade: one archive folder, opened for one actor.

    ARCHIVE/
      dangan.toml        configuration
      store/             OCFL 1.1 storage root (the source of truth)
      catalogue.sqlite   catalogue and audit trail
      index/             full-text index (derived)
      plugins/           single-file plugins
      .work/             staging folders and lock files (same filesystem as store/)
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from dangan.errors import UsageError
from dangan.model import Record
from dangan.core.catalogue import audit as audit_log
from dangan.core.catalogue import connection as catalogue
from dangan.core.catalogue import records
from dangan.core.kernel.actor import Actor, current_actor
from dangan.core.kernel.config import CONFIG_NAME, Config, find_archive, initial_config

if TYPE_CHECKING:                         # types only: start-up imports none of these
    from dangan.model import ExtractOptions, Extraction
    from dangan.plugins.manager import Plugins
    from dangan.core.store.analysis import Analyser
    from dangan.repository.ocfl import OcflStore
    from dangan.core.catalogue.audit_anchor import Pending
    from dangan.core.store.extraction import ExtractionWorker


class Archive:
    #: the checkpoint of the write transaction in progress (set by ``transaction``; absent outside one)
    _audit_pending: Pending | None
    #: keep the search index open between searches (a server thread's archive: ``core.search.held_index``)
    keep_search_index: bool = False

    def __init__(self, root: Path, actor: Actor | None = None, *,
                 extra_plugins: tuple[tuple[str, object], ...] = ()) -> None:
        from dangan.core.kernel import permissions
        from dangan.core.kernel.archive_trust import check_archive
        self.root = Path(root)
        check_archive(self.root)                      # before any of its configuration or code is used
        permissions.apply_umask(self.root)
        self.config = Config.load(self.root)
        self.actor = actor or current_actor()
        self.extra_plugins = tuple(extra_plugins)     # (name, plugin) pairs registered for this object only
        # for the face to show once
        self.warnings: list[str] = [*self.config.warnings, *permissions.exposure_warnings(self.root)]

    # -- opening ------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path | None = None, *, actor: Actor | None = None) -> "Archive":
        return cls(find_archive(path), actor)

    @classmethod
    def init(cls, path: str | Path, *, fonds: str, name: str = "", actor: Actor | None = None,
             group: str | None = None, catalogue_url: str | None = None, store_url: str | None = None,
             store_endpoint: str | None = None) -> "Archive":
        """Create an archive: private to its creator (0700/0600), or readable by ``group`` (2750/0640).

        ``catalogue_url`` (``postgresql://…``) puts the catalogue in that (empty) database instead of
        ``catalogue.sqlite``; ``dangan.toml`` then names it under ``[catalogue] url``.  ``store_url``
        (``s3://bucket/prefix``) puts the OCFL store in a bucket (``store_endpoint``: an S3-compatible
        service's address); the bucket must exist and the prefix be empty."""
        from dangan.repository.ocfl import OcflStore
        from dangan.repository.fsutil import translate_oserror
        from dangan.core.kernel import permissions
        from dangan.core.kernel.archive_trust import check_new_archive_folder

        root = Path(path).expanduser()
        fonds = fonds.strip()
        if not fonds or any(c in fonds for c in "-·/ \t\n"):
            raise UsageError(f"invalid fonds code {fonds!r}: a short code such as Z109, without '-', '·' or spaces")
        if (root / CONFIG_NAME).exists():
            raise UsageError(f"{root} is already an archive")
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"{root} exists and is not empty: choose a new or empty folder")
        check_new_archive_folder(root)
        if catalogue_url is not None:
            from dangan.core.catalogue.location import check_new_url
            check_new_url(catalogue_url, "--catalogue")
        try:
            if store_url is not None:
                from dangan.repository.s3client import is_s3_url
                if not is_s3_url(store_url):
                    raise UsageError(f"--store {store_url!r}: give an s3://bucket/prefix address")
                from dangan.repository.s3client import S3Place
                if not S3Place.parse(store_url).prefix:       # the audit checkpoints are kept beside the prefix
                    raise UsageError(f"--store {store_url!r}: give a prefix in the bucket (s3://bucket/prefix)")
            elif store_endpoint:
                raise UsageError("--store-endpoint needs --store s3://bucket/prefix")
            permissions.make_root(root, group)
            if store_url is None:
                OcflStore.create(root / "store", root / ".work")
            else:
                from dangan.repository.ocfl_s3 import S3OcflStore
                try:
                    S3OcflStore.create_s3(store_url, root / ".work", store_endpoint)
                except BaseException:
                    import shutil
                    shutil.rmtree(root / ".work", ignore_errors=True)     # the folder is as empty as it was
                    raise
            (root / "plugins").mkdir()
            (root / "index").mkdir()
            conn = catalogue.connect(catalogue_url or root / "catalogue.sqlite", create=True)
            import uuid
            from dangan.core.catalogue.audit_anchor import config_section
            from dangan.core.catalogue.location import config_section as catalogue_config_section
            archive_id = str(uuid.uuid4())
            from dangan.core.kernel.config import store_section
            (root / CONFIG_NAME).write_text(initial_config(fonds, name, archive_id) + config_section(archive_id)
                                            + catalogue_config_section(catalogue_url)
                                            + store_section(store_url, store_endpoint), encoding="utf-8")
        except OSError as exc:
            raise translate_oserror(exc, f"creating the archive at {root}") from exc
        conn.close()
        archive = cls(root.resolve(), actor)
        archive.record_event("archive.init", details={"fonds": fonds, "name": name})
        return archive

    # -- resources ----------------------------------------------------------
    @cached_property
    def conn(self) -> sqlite3.Connection:
        """The catalogue: ``catalogue.sqlite``, or the database ``[catalogue] url`` names (``db.PgConnection``,
        which offers the same API; typed as the SQLite connection the code is written against)."""
        return catalogue.connect(self.catalogue_url or self.catalogue_path)

    @property
    def catalogue_url(self) -> str | None:
        """``[catalogue] url`` (a PostgreSQL catalogue), or None: the embedded ``catalogue.sqlite``."""
        return self.config.raw.get("catalogue", {}).get("url") or None

    @property
    def catalogue_path(self) -> Path:
        return self.root / "catalogue.sqlite"

    @property
    def work(self) -> Path:
        """``.work/``, the store's work folder (staging, locks, what an interrupted operation left), known
        without opening the store: the cheap looks every command takes first need no more."""
        return self.root / ".work"

    @cached_property
    def store(self) -> OcflStore:
        """The OCFL storage root: ``store/`` here, or the bucket ``[store] url`` names (``ocfl_s3``)."""
        section = self.config.raw.get("store") or {}
        if section.get("url"):
            from dangan.repository.ocfl_s3 import S3OcflStore
            return S3OcflStore(section["url"], self.root / ".work", section.get("endpoint_url"))
        from dangan.repository.ocfl import OcflStore
        return OcflStore(self.root / "store", self.root / ".work")

    @cached_property
    def plugins(self) -> Plugins:
        """The plugin facade (loaded once per archive object)."""
        from dangan.core.kernel.plugin_host import load_plugins
        return load_plugins(self)

    @cached_property
    def _worker(self) -> ExtractionWorker:
        from dangan.core.store.extraction import ExtractionWorker, PluginExtractor
        cfg = self.config
        plugins = PluginExtractor((str(self.root / "plugins"),), cfg.plugins_enabled, tuple(cfg.plugins_disabled))
        return ExtractionWorker(timeout=cfg.extraction_timeout, memory_mb=cfg.extraction_memory_mb, plugins=plugins)

    def extractor(self, path: Path, mime: str) -> Extraction:
        """Extract text and metadata from one file, in the worker process, with the configured limits."""
        return self._worker.extract(path, mime, self.extraction_options())

    def extraction_options(self) -> ExtractOptions:
        """The ``ExtractOptions`` of this archive's configuration (what :meth:`extractor` passes)."""
        from dangan.model import ExtractOptions
        px = self.config.raw.get("extraction", {}).get("thumbnail_px", 256)
        return ExtractOptions(ocr_languages=self.config.ocr_languages, tesseract_cmd=self.config.tesseract,
                              thumbnail_px=px)

    def analyser(self, workers: int, *, text: bool = True) -> Analyser:
        """Worker processes for staged files' content analysis (``store/analysis``), extracting plain text
        as :meth:`extractor` would in-process (not with ``text=False``: ``dangan worker`` extracts it)."""
        from dangan.core.store.analysis import Analyser
        cfg = self.config
        return Analyser(workers, extractor=self._worker.extractor if text else None,
                        options=self.extraction_options(),
                        memory_mb=cfg.extraction_memory_mb)

    def close(self) -> None:
        if "_worker" in self.__dict__:
            self._worker.close()
            del self.__dict__["_worker"]
        if "conn" in self.__dict__:
            self.conn.close()
            del self.__dict__["conn"]

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; if it appended audit events, its checkpoint is logged after the commit."""
        from dangan.core.catalogue import audit_anchor
        pending = audit_anchor.Pending()
        outer = self.__dict__.get("_audit_pending")
        self._audit_pending = pending
        try:
            with catalogue.transaction(self.conn) as conn:
                yield conn
            audit_anchor.publish(self, pending)
        finally:
            self._audit_pending = outer

    # -- audit ----------------------------------------------------------------
    def audit_checkpoint(self) -> Pending:
        """The checkpoint of the write transaction in progress, for code that appends events itself."""
        pending = self.__dict__.get("_audit_pending")
        if pending is None:
            raise RuntimeError("audit_checkpoint() is only meaningful inside archive.transaction()")
        return pending

    def audit_ready(self, conn: sqlite3.Connection) -> None:
        """Refuse now (IntegrityError) if the audit trail is broken: writers that publish to the store before
        their first event call this first, so a refusal leaves nothing behind."""
        from dangan.core.catalogue import audit_anchor
        pending = self.__dict__.get("_audit_pending")
        if pending is not None and not pending.n:
            pending.n = audit_anchor.guard(self, conn)

    def audit(self, conn: sqlite3.Connection, action: str, obj: str = "", outcome: str = "success",
              details: dict[str, Any] | None = None) -> int:
        """Append an event inside the caller's transaction, with the actor's identity; a broken trail is
        refused (``audit_anchor.guard``), and the head is sealed with the audit key."""
        from dangan.core.catalogue import audit_anchor
        pending = self.__dict__.get("_audit_pending") or audit_anchor.Pending()
        if not pending.n:
            pending.n = audit_anchor.guard(self, conn)
        full = {**(details or {}), **self.actor.audit_details()}
        seq = audit_log.append(conn, actor=self.actor.name, action=action, obj=obj, outcome=outcome, details=full)
        audit_anchor.seal(self, conn, pending)
        return seq

    def record_event(self, action: str, obj: str = "", outcome: str = "success",
                     details: dict[str, Any] | None = None) -> int:
        with self.transaction() as conn:
            return self.audit(conn, action, obj, outcome, details)

    # -- writing ------------------------------------------------------------------
    def ingest(self, path: str | Path, *, attachments: tuple[str | Path, ...] = (), allow_duplicate: bool = False,
               index: bool = True, **fields: Any) -> Record:
        """Archive one file as a record (the API form of ``dangan ingest FILE``); raises on refusal."""
        from dangan.core.catalogue.fields import RecordFields
        from dangan.core.store.ingest import Ingestor
        from dangan.core.kernel.pipeline import pipeline_for
        from dangan.core.policy.users import acting_user
        from dangan.core.store.recovery import recover_interrupted
        acting_user(self, action="ingest")       # the same rule as `dangan ingest`: registered users only
        recover_interrupted(self)
        rec = Ingestor(self, allow_duplicate=allow_duplicate, **pipeline_for(self)).ingest(
            Path(path), RecordFields(**fields), tuple(Path(a) for a in attachments))
        if index:
            from dangan.core.search.indexing import drain
            drain(self)
        return rec

    # -- reading --------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        return records.resolve_id(self.conn, ref)

    def record(self, ref: str, version: int | None = None) -> Record:
        rec = records.get_record(self.conn, ref)
        if version is not None and version != rec.version:
            self._check_version(rec, version)
            rec = self.record_from_store(rec.id, version)
        return rec

    def opened(self, rec: Record) -> tuple[Record, bool]:
        """The record with its sealed fields restored if its volume is unlocked; (record, is_locked)."""
        from dangan.errors import CryptoError
        from dangan.core.confidential.sealing import opened, sealed_of
        sealed = sealed_of(self, rec.id) if rec.version == self._head(rec.id) else self._sealed_at(rec)
        if not sealed:
            return rec, False
        try:
            return opened(self, rec, sealed)[0], False
        except CryptoError:
            return rec, True

    def _head(self, rid: str) -> int:
        return self.conn.execute("SELECT version FROM records WHERE id = ?", (rid,)).fetchone()["version"]

    def _sealed_at(self, rec: Record) -> str | None:
        from dangan.core.store.retrieval import _sealed_at
        return _sealed_at(self, rec.id, rec.version)

    def _check_version(self, rec: Record, version: int) -> None:
        from dangan.errors import NotFound
        if not 1 <= version <= rec.version:
            raise NotFound(f"record {rec.id} has versions 1 to {rec.version}, not {version}")

    def record_from_store(self, record_id: str, version: int | None = None) -> Record:
        """The record as its version's metadata.json holds it (the store is the truth)."""
        from dangan.core.store.layout import read_metadata
        return read_metadata(self.store, record_id, version)

    def versions(self, ref: str) -> list[dict[str, Any]]:
        rid = self.resolve(ref)
        rows = self.conn.execute("SELECT * FROM versions WHERE record_id = ? ORDER BY version", (rid,))
        return [dict(r) for r in rows]
