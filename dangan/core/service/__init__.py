"""The service layer: operations as every face (CLI, web, API, worker) calls them.

Each function takes an opened ``Archive`` whose ``actor`` is the acting user, and does inside core
what no face may skip: resolve the user (``policy.users.acting_user``: registered users only, once
any exist), ask the policy point, do the work, write the audit event.  A face parses input, calls
one of these, and renders the result.  One module per concern: ``session`` (opening an archive
as every face must), ``records`` (ingest, revise, show, versions, ls, get, approve, check, identify), ``search``, ``lending``, ``holds``, ``disposition``,
``inspection``, ``export``, ``audit``, ``reports``, ``registers`` (the lists), ``users``,
``volumes``, ``declassification``, ``alerts``, ``backup``, ``watch``.  The list with what each
offers is in docs/architecture.md, "The service layer".
"""
