"""`dangan user`: the users register."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_lines, line, table


@click.group("user")
def user():
    """The users register: roles, department and clearance of everyone who acts."""


def _show(u) -> None:
    line(f"{u.name}: roles {', '.join(sorted(u.roles)) or '-'}; clearance {u.clearance}; "
               f"department {u.department or '-'}; OS account {u.os_account or '(unbound)'}"
               + (f" (also {', '.join(sorted(u.may_act_as))})" if u.may_act_as else "")
               + ("" if u.active else "; DISABLED"))


ROLE_HELP = ("admin, archivist, department-head, manager, staff, auditor, security-officer, legal, or a department"
             " plugin's role: project-manager (construction), customer-service-manager (customer_confidentiality);"
             " `dangan plugins list` shows them (repeatable).")


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help=ROLE_HELP)
@click.option("--clearance", default="internal", show_default=True, help="Highest secrecy the user may see.")
@click.option("--dept", "department", help="Department code, e.g. BGS.")
@click.option("--display-name", default="")
@click.option("--os-account", help="The OS account this user is (default: the name; the first user: yours).")
@click.option("--may-act-as", "act_as", multiple=True, metavar="ACCOUNT",
              help="Another OS account that may act as this user with --as (repeatable).")
@pass_ctx
def user_add(ctx, name, roles, clearance, department, display_name, os_account, act_as):
    """Add a user (the first user becomes an admin bound to your OS account; later ones need an admin)."""
    from ..core.service import users
    _show(users.add(ctx.archive(), name, display_name=display_name, department=department, roles=roles,
                   clearance=clearance, os_account=os_account, may_act_as=act_as))


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def user_list(ctx, as_json):
    """Everyone in the register."""
    from ..core.service import registers
    archive = ctx.archive()
    users = registers.users(archive)
    for name, roles in registers.separation_conflicts(archive).items():
        click.echo(f"warning: 三员分立 is on but {name} holds {', '.join(roles)}: remove all but one "
                   f"(`dangan user set {name} --remove-role ...`)", err=True)
    if as_json:
        json_lines(u.to_dict() for u in users)
        return
    table([(u.name, u.display_name, u.department or "", ", ".join(sorted(u.roles)), u.clearance,
            "yes" if u.active else "no", u.os_account or "(unbound)", ", ".join(sorted(u.may_act_as)))
           for u in users], ["USER", "NAME", "DEPT", "ROLES", "CLEARANCE", "ACTIVE", "OS ACCOUNT", "MAY ACT AS"])


@user.command("set")
@click.argument("name")
@click.option("--add-role", "add", multiple=True, help="Give a role: " + ROLE_HELP)
@click.option("--remove-role", "remove", multiple=True, help="Take a role away (repeatable).")
@click.option("--clearance")
@click.option("--dept", "department")
@click.option("--display-name")
@click.option("--os-account", help="Bind the user to this OS account.")
@click.option("--may-act-as", "act_as", multiple=True, metavar="ACCOUNT", help="Allow an OS account to act as them.")
@click.option("--no-act-as", "no_act_as", multiple=True, metavar="ACCOUNT", help="Withdraw that again.")
@pass_ctx
def user_set(ctx, name, add, remove, clearance, department, display_name, os_account, act_as, no_act_as):
    """Change a user's roles, clearance, department, display name or OS accounts (admin)."""
    from ..core.service import users
    _show(users.change(ctx.archive(), name, add_roles=add, remove_roles=remove, clearance=clearance,
                   department=department, display_name=display_name, os_account=os_account,
                   add_act_as=act_as, remove_act_as=no_act_as))


@user.command("disable")
@click.argument("name")
@click.option("--reason", default="")
@pass_ctx
def user_disable(ctx, name, reason):
    """Disable a user: they may no longer act (kept in the register and the audit trail)."""
    from ..core.service import users
    _show(users.disable(ctx.archive(), name, reason))


@user.command("enable")
@click.argument("name")
@pass_ctx
def user_enable(ctx, name):
    """Enable a disabled user again."""
    from ..core.service import users
    _show(users.enable(ctx.archive(), name))


@user.command("passwd")
@click.argument("name")
@pass_ctx
def user_passwd(ctx, name):
    """Set NAME's password for `dangan serve` (asked twice at a prompt, or one line on stdin); an admin sets
    anyone's, a user their own.  Never given on the command line."""
    from ..core.service import users
    from .passphrase import read_secret_line
    archive = ctx.archive()
    users.set_password(archive, name, read_secret_line(f"new password for {name}", confirm=True))
    line(f"password of {name} set")


COMMANDS = [user]
