"""An API request's Idempotency-Key, across servers that die (issue 17): a claim whose server was killed mid-request
is taken over by the retry once the dead server's leases have all ended and its interrupted writes are settled.

:func:`claim` answers (the record an earlier request with this key filed, or None: go on; taken over).  A request
that takes over a dead one's claim and then finds its file already archived (the dead server had filed it, or
recovery just adopted it) answers with that record, as a replay would: the file is archived once.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.core.policy import credentials

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def claim(archive: Archive, user: str, key: str, request_digest: str) -> tuple[str | None, bool]:
    try:
        return credentials.claim_idempotency(archive, user, key, request_digest), False
    except credentials.InProgress:
        dead = credentials.dead_claimer(archive, user, key)
        if dead is None:
            raise                                   # its server may be at work: the client retries later
    from dangan.core.store.recovery import recover_interrupted
    try:
        recover_interrupted(archive)                # the dead server's version: adopted, or forgotten
        left = archive.conn.execute("SELECT 1 FROM ingest_intents WHERE host = ? AND pid = ?", dead).fetchone()
        if left is not None:                        # another process is settling it right now
            raise credentials.InProgress("a request with this Idempotency-Key is still being served: retry later")
        credentials.take_over_claim(archive, user, key, request_digest)
    except BaseException:
        credentials.give_up_claim(archive, user, key)
        raise
    return None, True
