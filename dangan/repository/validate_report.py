"""Result types of OCFL validation: one problem, one report, and the collector
the checks write into while they run."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One finding of the validator.

    ``code`` is the OCFL 1.1 validation code (``E040``, ``W004`` ...), ``message``
    one line naming the file, version or logical path, and ``path`` the place
    it concerns, relative to the object root (or to the storage root for
    storage-root findings); empty where no single path applies.
    """

    code: str
    message: str
    path: str = ""

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


@dataclass
class ValidationReport:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings do not make an object invalid)."""
        return not self.errors

    @property
    def codes(self) -> set[str]:
        """Every code reported, errors and warnings together."""
        return {p.code for p in self.errors} | {p.code for p in self.warnings}


class Collector:
    """Gathers problems for one report; drops exact repeats.

    The same rule can fire from several inventories of one object (the root
    inventory and each version's copy); a repeat with the same code, message
    and path is reported once.
    """

    def __init__(self) -> None:
        self.report = ValidationReport()
        self._seen: set[tuple[str, str, str]] = set()

    def error(self, code: str, message: str, path: str = "") -> None:
        self._add(self.report.errors, code, message, path)

    def warn(self, code: str, message: str, path: str = "", *, once: str | None = None) -> None:
        """``once``: a key under which this warning is given once per object,
        e.g. the same finding in the root inventory and in each version's copy."""
        if once is not None:
            if (code, once, "") in self._seen:
                return
            self._seen.add((code, once, ""))
        self._add(self.report.warnings, code, message, path)

    def _add(self, into: list[Problem], code: str, message: str, path: str) -> None:
        # One line, whatever the file names in it hold.
        message = message.replace("\r", "\\r").replace("\n", "\\n")
        key = (code, message, path)
        if key not in self._seen:
            self._seen.add(key)
            into.append(Problem(code, message, path))

    @property
    def error_count(self) -> int:
        return len(self.report.errors)
