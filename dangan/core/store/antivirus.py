"""The virus check at intake (DA/T 70's security property): ClamAV, before anything is staged.

Each file handed to the archive is streamed, through the descriptor ingest already holds, to
clamd's ``INSTREAM`` command when the daemon answers on its socket, else to ``clamscan -``
(stdin).  Either way the content goes through a pipe or a socket, never a temporary file, so a
confidential file's plaintext is not written anywhere.  The verdicts:

* clean: ingest goes on; the record's metadata says which engine checked it (``x.virus_check``);
* infected: :class:`~dangan.errors.Infected` (exit 16) with the signature's name; the drop folder
  moves the file to its ``quarantine/``, ``dangan ingest`` to the archive's ``quarantine/``
  (:func:`quarantine`), each with a ``NAME.error.txt`` naming the signature; never archived;
* the check cannot run (a scan error, a time-out, no engine or no signatures where one is
  required): :class:`~dangan.errors.VirusCheckFailed` (exit 17), a refusal, never a pass.

Configuration::

    [antivirus]
    enabled = "auto"      # auto: check when ClamAV and signatures are there, else say so in
                          #   `dangan status`; on: refuse every file that cannot be checked; off
    socket = "/var/run/clamav/clamd.ctl"     # clamd's local socket (Debian's default)
    database = ""         # a signature folder for clamscan -d (default: ClamAV's own)
    clamscan = "clamscan"
    timeout_seconds = 300
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import struct
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dangan.errors import Infected, VirusCheckFailed

DEFAULT_SOCKET = "/var/run/clamav/clamd.ctl"
DEFAULT_DATABASE = "/var/lib/clamav"
SIGNATURE_SUFFIXES = (".cvd", ".cld", ".cud", ".hdb", ".hsb", ".ndb", ".ndu", ".ldb", ".ldu", ".mdb", ".msb",
                      ".cdb", ".yar", ".yara", ".ign2", ".fp", ".sfp")
CHUNK = 256 * 1024


@dataclass(frozen=True)
class Verdict:
    infected: bool
    signature: str = ""
    engine: str = ""               # clamd, clamscan

    def note(self) -> str:
        return f"clean ({self.engine})" if not self.infected else f"infected: {self.signature} ({self.engine})"


@dataclass(frozen=True)
class Antivirus:
    enabled: str = "auto"
    socket: str = DEFAULT_SOCKET
    database: str = ""
    clamscan: str = "clamscan"
    timeout: float = 300.0

    @classmethod
    def of(cls, config, root: Path | None = None) -> "Antivirus":
        """From ``[antivirus]``; a relative ``database`` is taken from the archive's folder ``root``."""
        raw = dict((config.raw.get("antivirus") or {}) if config is not None else {})
        database = str(raw.get("database", ""))
        if database and root is not None and not Path(database).is_absolute():
            database = str(Path(root) / database)
        return cls(enabled=str(raw.get("enabled", "auto")), socket=str(raw.get("socket", DEFAULT_SOCKET)),
                   database=database, clamscan=str(raw.get("clamscan", "clamscan")),
                   timeout=float(raw.get("timeout_seconds", 300)))

    # -- what is there ------------------------------------------------------------------
    def signature_files(self) -> list[str]:
        folder = Path(self.database or DEFAULT_DATABASE)
        try:
            return sorted(p.name for p in folder.iterdir() if p.suffix in SIGNATURE_SUFFIXES and p.is_file())
        except OSError:
            return []

    def clamd_up(self) -> bool:
        if self.database:                 # signatures of our own: clamd loads its own, so clamscan -d
            return False
        try:
            return _clamd(self.socket, b"zPING\0", self.timeout).strip(b"\0") == b"PONG"
        except OSError:
            return False

    def engine(self) -> str | None:
        """clamd, clamscan, or None when nothing can check files."""
        if self.enabled == "off":
            return None
        if self.clamd_up():
            return "clamd"
        if shutil.which(self.clamscan) and self.signature_files():
            return "clamscan"
        return None

    def status(self) -> dict:
        """For `dangan status`: whether files are checked, by what, with which signatures."""
        sigs = self.signature_files()
        engine = self.engine()
        out: dict[str, Any] = {"enabled": self.enabled, "engine": engine, "signature_files": sigs,
               "database": self.database or DEFAULT_DATABASE}
        if self.enabled == "off":
            out["message"] = "the virus check is turned off ([antivirus] enabled = \"off\")"
        elif engine is None and not sigs:
            out["message"] = (f"no virus signatures in {out['database']}: files are NOT checked for viruses "
                              "(install them with freshclam, or set [antivirus] database)")
        elif engine is None:
            out["message"] = f"ClamAV ({self.clamscan}) is not installed: files are NOT checked for viruses"
        else:
            out["message"] = f"files are checked by {engine} ({len(sigs)} signature file(s))"
        if engine is None and self.enabled == "on":
            out["message"] += "; with enabled = \"on\" every file is refused until this is fixed"
        return out

    # -- checking one file ----------------------------------------------------------------
    def check(self, fh: BinaryIO, shown: str) -> Verdict | None:
        """Check one open file (read from its start, then rewound); None when no check applies."""
        if self.enabled == "off":
            return None
        engine = self.engine()
        if engine is None:
            if self.enabled == "on":
                raise VirusCheckFailed(f"{shown}: not archived: the virus check cannot run "
                                       f"({self.status()['message']})")
            return None
        try:
            fh.seek(0)
            verdict = self._clamd(fh, shown) if engine == "clamd" else self._clamscan(fh, shown)
        finally:
            fh.seek(0)
        if verdict.infected:
            raise Infected(f"{shown}: infected ({verdict.signature}, found by {verdict.engine}): quarantined, "
                           "not archived", verdict.signature)
        return verdict

    def _clamd(self, fh: BinaryIO, shown: str) -> Verdict:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.socket)
                s.sendall(b"zINSTREAM\0")
                while chunk := fh.read(CHUNK):
                    s.sendall(struct.pack(">I", len(chunk)) + chunk)
                s.sendall(struct.pack(">I", 0))
                reply = _read_reply(s)
        except OSError as exc:
            raise VirusCheckFailed(f"{shown}: not archived: the virus check failed (clamd: "
                                   f"{exc.strerror or exc})") from None
        text = reply.decode("utf-8", "replace").strip("\0").strip()
        if text.endswith(" FOUND"):
            return Verdict(True, text.removeprefix("stream:").removesuffix(" FOUND").strip(), "clamd")
        if text.endswith(": OK"):
            return Verdict(False, engine="clamd")
        raise VirusCheckFailed(f"{shown}: not archived: the virus check failed (clamd: {text[:200]})")

    def _clamscan(self, fh: BinaryIO, shown: str) -> Verdict:
        from dangan.lifeline import tool_preexec
        cmd = [self.clamscan, "--no-summary", "--stdout", "--infected"]
        if self.database:
            cmd += ["-d", self.database]
        cmd.append("-")
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=tool_preexec())
        except OSError as exc:
            raise VirusCheckFailed(f"{shown}: not archived: the virus check cannot run ({self.clamscan}: "
                                   f"{exc.strerror or exc})") from None
        stdin, proc.stdin = proc.stdin, None          # fed by a thread, so a stuck scanner meets the time-out
        assert stdin is not None                      # Popen(stdin=PIPE)

        def feed() -> None:
            try:
                while chunk := fh.read(CHUNK):
                    stdin.write(chunk)
            except (BrokenPipeError, ValueError, OSError):
                pass
            finally:
                try:
                    stdin.close()
                except (BrokenPipeError, OSError):
                    pass

        writer = threading.Thread(target=feed, name="dangan-clamscan-feed", daemon=True)
        writer.start()
        try:
            out, err = proc.communicate(timeout=self.timeout)
            writer.join()
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            writer.join(10)
            raise VirusCheckFailed(f"{shown}: not archived: the virus check took longer than "
                                   f"{self.timeout:.0f} s") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = out.decode("utf-8", "replace")
        if proc.returncode == 1:
            found = [ln for ln in text.splitlines() if ln.endswith(" FOUND")]
            sig = found[0].rsplit(":", 1)[-1].removesuffix(" FOUND").strip() if found else "unknown signature"
            return Verdict(True, sig, "clamscan")
        if proc.returncode == 0:
            return Verdict(False, engine="clamscan")
        lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
        raise VirusCheckFailed(f"{shown}: not archived: the virus check failed (clamscan exit {proc.returncode}: "
                               f"{lines[-1][:200] if lines else 'no message'})")


def _clamd(path: str, command: bytes, timeout: float) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(min(timeout, 5.0))
        s.connect(path)
        s.sendall(command)
        return _read_reply(s)


def _read_reply(s: socket.socket) -> bytes:
    buf = b""
    while not buf.endswith(b"\0"):
        data = s.recv(4096)
        if not data:
            break
        buf += data
    return buf


def quarantine(archive_root: Path, path: Path, reason: str) -> Path | None:
    """Move an infected file given to `dangan ingest` into ``ARCHIVE/quarantine/`` with its reason."""
    from dangan.core.store.source_files import shown_name
    folder = Path(archive_root) / "quarantine"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        target = folder / path.name
        n = 1
        while target.exists() or Path(f"{target}.error.txt").exists():
            target = folder / f"{path.stem}-{n}{path.suffix}"
            n += 1
        when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        note = f"{reason}\n\nfile: {shown_name(path)}\nquarantined: {when}\nby: dangan ingest\n"
        Path(f"{target}.error.txt").write_text(note, encoding="utf-8", errors="backslashreplace")
        shutil.move(str(path), target)
        os.chmod(target, 0o600)
        return target
    except OSError:
        return None
