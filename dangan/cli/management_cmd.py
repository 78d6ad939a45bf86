"""Records management commands (issue 8), gathered from the ``mgmt_*`` modules."""
from __future__ import annotations

from .mgmt_disposition import COMMANDS as _disposition
from .mgmt_export import COMMANDS as _export
from .mgmt_holds import COMMANDS as _holds
from .mgmt_lend import COMMANDS as _lend
from .mgmt_users import COMMANDS as _users

COMMANDS = [*_users, *_lend, *_disposition, *_holds, *_export]
