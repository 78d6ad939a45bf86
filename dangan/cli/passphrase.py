"""Reading passphrases without ever taking them from argv.

In order: ``--passphrase-fd N`` (one line read from that descriptor),
``$DANGAN_PASSPHRASE``, a prompt on the terminal (asked twice when a new one
is set), or one line from stdin when it is not a terminal.
"""
from __future__ import annotations

import getpass
import os
import sys

from ..errors import UsageError


def read_passphrase(prompt: str, *, fd: int | None = None, confirm: bool = False,
                    env: str = "DANGAN_PASSPHRASE") -> bytes:
    if fd is not None:
        try:
            with os.fdopen(os.dup(fd), "rb") as fh:
                value = fh.readline().rstrip(b"\r\n")
        except OSError as exc:
            raise UsageError(f"cannot read a passphrase from descriptor {fd}: {exc.strerror}") from None
    elif os.environ.get(env):
        value = os.environ[env].encode()
    elif sys.stdin.isatty():
        value = getpass.getpass(prompt + ": ").encode()
        if confirm and getpass.getpass("again: ").encode() != value:
            raise UsageError("the two passphrases differ")
    else:
        value = sys.stdin.buffer.readline().rstrip(b"\r\n")
    if not value:
        raise UsageError(f"no passphrase given: type it at the prompt, or give it on stdin, in ${env} "
                         "or with --passphrase-fd N (an empty passphrase is not accepted)")
    return value


def read_secret_line(prompt: str, *, confirm: bool = False) -> str:
    """A secret (a web password) from the terminal, asked twice when ``confirm``, or one line of stdin."""
    if sys.stdin.isatty():
        value = getpass.getpass(prompt + ": ")
        if confirm and getpass.getpass("again: ") != value:
            raise UsageError("the two entries differ")
    else:
        value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise UsageError("nothing given: type it at the prompt or give one line on stdin")
    return value
