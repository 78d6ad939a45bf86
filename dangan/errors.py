"""Domain errors: each carries a one-line message and an exit code.

Errors are raised anywhere in dangan and translated to output in exactly one
place, the CLI edge (``dangan.cli``).  Exit codes are stable so scripts can
branch on them.
"""
from __future__ import annotations


class DanganError(Exception):
    """Base of every error a user can cause or meet; never shown as a traceback."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(DanganError):
    """Bad arguments or values given by the user (an unknown secrecy level...)."""

    exit_code = 2


class ArchiveNotFound(DanganError):
    exit_code = 3


class NotFound(DanganError):
    """An unknown record id, version, volume or file."""

    exit_code = 4


class DuplicateRecord(DanganError):
    exit_code = 5

    def __init__(self, message: str, existing_id: str = "") -> None:
        super().__init__(message)
        self.existing_id = existing_id


class IntegrityError(DanganError):
    """A digest mismatch, a broken inventory, a broken audit chain."""

    exit_code = 6


class AccessDenied(DanganError):
    exit_code = 7


class StorageFull(DanganError):
    exit_code = 8


class LockTimeout(DanganError):
    exit_code = 9


class ValidationFailed(DanganError):
    """A record was refused by a validation rule (a plugin's, or core's)."""

    exit_code = 10


class PluginError(DanganError):
    exit_code = 11


class CryptoError(DanganError):
    exit_code = 12


class FileRefused(DanganError):
    """A file cannot be archived (unreadable, not a regular file, ...)."""

    exit_code = 13


class SymlinkedFolder(FileRefused):
    """A file's folder inside a drop folder is a symbolic link: the file is neither read nor moved."""


class RecordGone(NotFound):
    """The record was destroyed or transferred: only its tombstone is here (exit 4, like NotFound)."""

    exit_code = 4


class LegalHold(AccessDenied):
    """A record under legal hold (冻结) may not be destroyed, transferred, revised or proposed for disposal."""

    exit_code = 14


class WrongState(DanganError):
    """Not possible in the current state: a loan not yet approved, a destruction list not approved."""

    exit_code = 15


class Infected(FileRefused):
    """The virus check found a signature in the file: it is quarantined, never archived."""

    exit_code = 16

    def __init__(self, message: str, signature: str) -> None:
        super().__init__(message)
        self.signature = signature
        self.path = None                 # the infected file, set by ingest


class VirusCheckFailed(FileRefused):
    """The virus check could not run (no engine, no signatures, a scan error): refused, never passed."""

    exit_code = 17


class StoreUnavailable(DanganError):
    """The object storage (S3) cannot be reached or refused a request: nothing was trusted half-written."""

    exit_code = 18
