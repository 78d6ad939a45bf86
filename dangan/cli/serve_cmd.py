"""`dangan serve` (the web UI and the REST API) and `dangan token` (API tokens for business systems)."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (behind a TLS proxy:"
              " keep 127.0.0.1, see docs/deployment.md).")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
@click.option("--proxy", "forwarded", metavar="ADDR", default="127.0.0.1", show_default=True,
              help="Trust X-Forwarded-Proto/For from this proxy address (TLS ends there).")
@pass_ctx
def serve(ctx, host, port, workers, forwarded):
    """Serve the archive on the web: pages for staff (Chinese, English switchable) and /api/v1."""
    import os

    import uvicorn
    from ..errors import UsageError
    archive = ctx.archive()                  # found like every command; trust and health checked here
    root = str(archive.root)
    archive.close()
    if not 1 <= workers <= 64:
        raise UsageError("--workers must be 1 to 64")
    os.environ["DANGAN_SERVE_ROOT"] = root
    os.environ["DANGAN_SERVE_WORKERS"] = str(workers)     # a volume unlocked for the server needs one process
    line(f"dangan serve: {root} on http://{host}:{port}/ (sign in at /login)")
    uvicorn.run("dangan.web.asgi:app", host=host, port=port, workers=workers, proxy_headers=True,
                forwarded_allow_ips=forwarded, log_level="warning", access_log=False, server_header=False)


@click.group("token")
def token():
    """API tokens for systems calling /api/v1 (an admin creates them; stored hashed; shown once)."""


@token.command("create")
@click.argument("user")
@click.option("--scope", "scope", required=True, metavar="SCOPES", help="Comma-separated: read, ingest, lend, hold, admin.")
@click.option("--days", type=int, default=90, show_default=True, help="Days until it expires.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def token_create(ctx, user, scope, days, as_json):
    """Create a token for USER; it is printed once and cannot be shown again."""
    from ..core.service import users
    secret, row = users.create_token(ctx.archive(), user, scope, days=days)
    if as_json:
        json_line({**row, "token": secret})
        return
    click.echo(secret)
    line(f"token {row['id']} for {row['user']} ({', '.join(row['scopes'])}) until {row['expires']}: "
         "store it now, it is not shown again", err=True)


@token.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def token_list(ctx, as_json):
    """Tokens (never their secrets): an admin sees all, a user their own."""
    from ..core.service import users
    rows = users.tokens(ctx.archive())
    if as_json:
        json_lines(rows)
        return
    table([(r["id"], r["user"], ",".join(r["scopes"]), r["expires"], "revoked" if r["revoked_at"] else "",
            r["last_used"] or "") for r in rows], ["ID", "USER", "SCOPES", "EXPIRES", "STATE", "LAST USED"])


@token.command("revoke")
@click.argument("token_id")
@pass_ctx
def token_revoke(ctx, token_id):
    """Revoke a token by its id (`dangan token list`)."""
    from ..core.service import users
    row = users.revoke_token(ctx.archive(), token_id)
    line(f"token {row['id']} of {row['user']} revoked")


COMMANDS = [serve, token]
