"""Finding the archive and reading its configuration (``dangan.toml``).

The archive is found like git finds a repository: ``--archive PATH``, else
``$DANGAN_ARCHIVE``, else the nearest ``dangan.toml`` upward from the
working directory.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dangan.errors import ArchiveNotFound, UsageError

CONFIG_NAME = "dangan.toml"


def find_archive(explicit: str | os.PathLike | None = None, cwd: Path | None = None) -> Path:
    if explicit:
        root = Path(explicit).expanduser()
        if not (root / CONFIG_NAME).is_file():
            raise ArchiveNotFound(f"no archive at {root} (no {CONFIG_NAME}); create one with `dangan init {root}`")
        return root.resolve()
    env = os.environ.get("DANGAN_ARCHIVE")
    if env:
        root = Path(env).expanduser()
        if not (root / CONFIG_NAME).is_file():
            raise ArchiveNotFound(f"$DANGAN_ARCHIVE points to {root}, which holds no archive ({CONFIG_NAME} missing)")
        return root.resolve()
    here = (cwd or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / CONFIG_NAME).is_file():
            return d
    raise ArchiveNotFound(
        "no archive here: give --archive PATH, set $DANGAN_ARCHIVE, or run inside an archive (dangan init creates one)"
    )


@dataclass
class Config:
    """The parsed, validated ``dangan.toml``; ``raw`` keeps every section as written."""

    fonds: str
    name: str
    ocr_languages: str = "chi_sim+chi_tra+eng"
    extraction_timeout: float = 120.0
    extraction_memory_mb: int = 1024
    tesseract: str = "tesseract"
    plugins_enabled: list[str] | None = None
    plugins_disabled: list[str] = field(default_factory=list)
    archive_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)     # unknown keys (the CLI prints them)

    @classmethod
    def load(cls, root: Path) -> "Config":
        """Read and validate ``dangan.toml`` (schema: :mod:`.config_schema`); a bad value is a UsageError."""
        from dangan.core.kernel.config_schema import validate
        path = root / CONFIG_NAME
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path}: not UTF-8 text (invalid byte at offset {exc.start}): save it as UTF-8") from None
        except OSError as exc:
            raise UsageError(f"{path}: cannot be read ({exc.strerror})") from None
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: invalid TOML: {exc}") from None
        warnings = validate(raw, str(path))
        archive = raw["archive"]
        extraction = raw.get("extraction", {})
        plugins = raw.get("plugins", {})
        _check_enabled(root, plugins.get("enabled") or [])
        return cls(
            fonds=archive["fonds"].strip(),
            name=archive.get("name", ""),
            ocr_languages=extraction.get("ocr_languages", "chi_sim+chi_tra+eng"),
            extraction_timeout=float(extraction.get("timeout_seconds", 120)),
            extraction_memory_mb=extraction.get("memory_mb", 1024),
            tesseract=extraction.get("tesseract", "tesseract"),
            plugins_enabled=plugins.get("enabled"),
            plugins_disabled=list(plugins.get("disabled", [])),
            archive_id=archive.get("id", ""),
            raw=raw,
            warnings=warnings,
        )


def initial_config(fonds: str, name: str, archive_id: str) -> str:
    """The text of a new archive's ``dangan.toml`` (commented, so users can edit it)."""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"""# dangan archive configuration
[archive]
id = {q(archive_id)}   # never change: binds the keystore to this archive
fonds = {q(fonds)}          # 全宗号, the fonds code used in archival codes
name = {q(name)}

[keystore]
# path = "/secure/place/keystore.json"   # default: $DANGAN_KEYSTORE, else ~/.local/share/dangan/keystores/<id>.json
unlock_minutes = 30                      # how long `dangan volume unlock` lasts

[extraction]
ocr_languages = "chi_sim+chi_tra+eng"   # Tesseract languages
timeout_seconds = 120           # per file, in a worker process
memory_mb = 1024
# tesseract = "/usr/bin/tesseract"   # the OCR command (default: tesseract on PATH)

[plugins]
# enabled = ["general_office"]   # department plugins to enable (default: built-ins only)
# disabled = []
"""


def store_section(url: str | None, endpoint: str | None) -> str:
    """The ``[store]`` section of a new archive whose store is in a bucket ("" for the folder default)."""
    if not url:
        return ""
    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = ["", "[store]", f"url = {q(url)}   # the OCFL storage root (credentials: the usual AWS variables and files)"]
    if endpoint:
        lines.append(f"endpoint_url = {q(endpoint)}")
    return "\n".join(lines) + "\n"


def _check_enabled(root: Path, names) -> None:
    """``[plugins] enabled`` names only plugins that exist: a typo would leave a department without its
    rules (cheap: the shipped modules' names and ARCHIVE/plugins are looked at; entry points only then)."""
    import pkgutil
    shipped = {m.name for m in pkgutil.iter_modules([str(Path(__file__).parents[2] / "plugins" / "departments")])}
    missing = [n for n in names if n not in shipped and not (root / "plugins" / f"{n}.py").is_file()]
    if missing:
        import importlib.metadata
        installed = {ep.name for ep in importlib.metadata.entry_points(group="dangan.plugins")}
        missing = [n for n in missing if n not in installed]
    if missing:
        raise UsageError(f"dangan.toml [plugins] enabled names unknown plugin(s) {', '.join(map(repr, missing))};"
                         f" valid: {', '.join(sorted(shipped))} (see `dangan plugins list`)")
