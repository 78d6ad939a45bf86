"""The ``dangan`` command line: thin click commands over the core API.

Domain errors become one clear line on stderr and an exit code, here and
nowhere else.  Imports of the core are lazy so that commands which do not
read content start fast.
"""
from __future__ import annotations

import errno
import sys

import click

from ..errors import DanganError


class DanganGroup(click.Group):
    """A group that turns domain errors into one line and an exit code.

    Commands contributed by plugins are added only when a name is not a
    built-in command (or for --help), so built-in commands start fast.
    """

    _plugin_commands_loaded = False

    def _load_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugin_commands_loaded or not isinstance(ctx.obj, Context):
            return
        self._plugin_commands_loaded = True
        try:
            archive = ctx.obj.archive()
        except DanganError:
            return
        for problem in archive.plugins.add_commands(self):
            click.echo(f"dangan: warning: {problem}", err=True)

    def get_command(self, ctx: click.Context, name: str):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in _MODULE_OF:
            _load_module_commands(_MODULE_OF[name])
            cmd = super().get_command(ctx, name)
        if cmd is None:
            self._load_plugin_commands(ctx)
            cmd = super().get_command(ctx, name)
        return cmd

    def list_commands(self, ctx: click.Context):
        get_cli()
        self._load_plugin_commands(ctx)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DanganError as exc:
            fail(exc.message, exc.exit_code)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                fail("disk full: the operation was not completed; free space and retry", 8)
            if exc.errno in (errno.EACCES, errno.EPERM):
                fail(f"permission denied: {exc.filename or exc}", 7)
            if exc.errno == errno.EPIPE:
                sys.exit(0)
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:
            if type(exc).__module__ == "sqlite3":                # damage found on a page read later
                from ..core.catalogue.health import damage_message, is_damage
                if is_damage(exc):
                    fail(damage_message(exc), 6)
            raise


class TermsCommand(click.Command):
    """A command whose arguments may start with '-' (``-草稿`` excludes a word, ``-dept:BGS`` a filter):
    it has no short options, and only a lone ``-h`` (like ``--help``) asks for help."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        args = ["--help" if a == "-h" and i < end else a for i, a in enumerate(args)]
        return super().parse_args(ctx, args)


def fail(message: str, code: int) -> None:
    from .output import printable
    click.echo(f"dangan: error: {printable(message)}", err=True)
    sys.exit(code)


class Context:
    """What every command needs: where the archive is and who acts."""

    def __init__(self, archive_path: str | None, as_user: str | None) -> None:
        self.archive_path = archive_path
        self.as_user = as_user
        self._archive = None

    def actor(self):
        from ..core.kernel.actor import current_actor
        return current_actor(self.as_user)

    def archive(self):
        """The archive, opened once per command as every face opens it (``service.session``)."""
        if self._archive is None:
            from ..core.service.session import open_archive
            from .output import printable
            self._archive = open_archive(self.archive_path, self.actor(),
                                         on_warning=lambda m: click.echo(f"dangan: warning: {printable(m)}", err=True))
        return self._archive


pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=DanganGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--archive", "archive_path", metavar="PATH", envvar=None,
              help="The archive folder (default: $DANGAN_ARCHIVE, else the nearest dangan.toml upward).")
@click.option("--as", "as_user", metavar="USER", help="Act as USER (default: $DANGAN_USER, else the OS user).")
@click.version_option(package_name="dangan", prog_name="dangan")
@click.pass_context
def cli(ctx: click.Context, archive_path: str | None, as_user: str | None) -> None:
    """dangan (档案): a records archive — store, catalogue, search and keep records by the rules."""
    ctx.obj = Context(archive_path, as_user)
    ctx.call_on_close(lambda: ctx.obj._archive and ctx.obj._archive.close())


#: Where each command lives: one module per command or command group, named after it (``lend`` in
#: ``lend_cmd.py``); a module exposes ``COMMANDS``.  Only the module of the command being
#: run is imported (``dangan show`` does not pay for ``dangan backup``); tests/cli/test_cli_registry.py
#: checks this table against the modules.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "init_cmd": ("init",),
    "check_cmd": ("check",),
    "rebuild_catalogue_cmd": ("rebuild-catalogue",),
    "catalogue_cmd": ("catalogue",),
    "audit_cmd": ("audit",),
    "ingest_cmd": ("ingest",),
    "revise_cmd": ("revise",),
    "edit_cmd": ("edit",),
    "mv_cmd": ("mv",),
    "box_cmd": ("box", "where"),
    "show_cmd": ("show",),
    "ls_cmd": ("ls",),
    "versions_cmd": ("versions",),
    "identify_cmd": ("identify",),
    "get_cmd": ("get",),
    "search_cmd": ("search",),
    "reindex_cmd": ("reindex",),
    "plugins_cmd": ("plugins",),
    "schemes_cmd": ("schemes",),
    "alerts_cmd": ("alerts",),
    "approve_cmd": ("approve",),
    "report_cmd": ("report",),
    "volume_cmd": ("volume",),
    "watch_cmd": ("watch",),
    "status_cmd": ("status",),
    "backup_cmd": ("backup",),
    "declassify_cmd": ("declassify",),
    "print_cmd": ("print",),
    "user_cmd": ("user",),
    "access_cmd": ("access",),
    "lend_cmd": ("lend",),
    "disposition_cmd": ("disposition",),
    "hold_cmd": ("hold",),
    "inspect_cmd": ("inspect",),
    "export_cmd": ("export",),
    "import_bag_cmd": ("import-bag",),
    "stats_cmd": ("stats",),
    "serve_cmd": ("serve", "token"),
}
_MODULE_OF = {name: module for module, names in COMMAND_MODULES.items() for name in names}


def _load_module_commands(module: str) -> None:
    import importlib
    for cmd in importlib.import_module(f"{__name__}.{module}").COMMANDS:
        cli.add_command(cmd)


def get_cli() -> click.Group:
    """The command group with every command added (tests and --help use this)."""
    for module in COMMAND_MODULES:
        if not any(n in cli.commands for n in COMMAND_MODULES[module]):
            _load_module_commands(module)
    return cli


def main() -> None:
    cli(prog_name="dangan")
