"""The service layer: operations as every face (CLI, web, API, worker) calls them.

Each function takes an opened ``Archive`` whose ``actor`` is the acting user, and does inside core
what no face may skip: resolve the user (``policy.users.acting_user``: registered users only, once
any exist), ask the policy point, do the work, write the audit event.  A face parses input, calls
one of these, and renders the result.  Issue 14 starts the layer here with reports and the list
operations that skipped the registered-user check from Python; the other operations move in
as their faces are rebuilt on it.
"""
