"""Records out and in as BagIt bags (RFC 8493): export needs ``export`` on every record, import archives."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def export(archive: Archive, refs: Iterable[str] = (), *, volume: str | None = None, query: str | None = None,
           dest: Path, receiver: str = "") -> dict[str, Any]:
    """Write the named records (or a volume's, or a query's) as a bag in ``dest`` — a transfer package (移交):
    DA/T 48-style XML per record and the 移交清单 naming ``receiver`` — audited per record."""
    from dangan.core.management.export_bagit import export_bag, select
    acting_user(archive, action="export")
    return export_bag(archive, select(archive, list(refs), volume=volume, query=query), Path(dest),
                      receiver=receiver)


def import_bag(archive: Archive, bag: Path, *, allow_duplicate: bool = False,
               on_outcome: Callable[[dict[str, Any]], None] | None = None, require_signature: bool = False,
               signer_key: str | None = None) -> list[dict[str, Any]]:
    """Archive every record of a bag made by ``export`` (validated first, its DA/T 48 signatures checked);
    one outcome per record."""
    from dangan.core.management.import_bag import import_bag as run
    return run(archive, Path(bag), allow_duplicate=allow_duplicate, on_outcome=on_outcome,
               require_signature=require_signature, signer_key=signer_key)


__all__ = ["export", "import_bag"]
