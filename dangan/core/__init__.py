"""dangan's core: everything a face (CLI, web, API, worker) calls, in capability packages.

The map, lowest layer first.  A package may import the packages above it in this list, never one
below it (``tests/project/test_import_layers.py`` walks every import, lazy ones included, and fails on a
new upward edge; the few that exist today are listed there by file, as debts to pay off)::

    kernel/        config, config_schema, actor (who is acting), clock (UTC now, the catalogue's time
                   text), plugin_host, pipeline, progress,
                   archive_trust (whose archive this is), permissions (0700/0600)
    catalogue/     connection (SQLite or PostgreSQL, migrations), db (the one dialect on both engines),
                   location (where the catalogue is), folded (folded columns), transfer (the move to
                   PostgreSQL), health, records, fields, audit, audit_anchor,
                   audit_verify, volumes, tombstones, outbox (the index-outbox row), rowid (the id an
                   INSERT made)
    policy/        users, departments, access (the one policy point: ``require``/``visibility``),
                   loan_policy, disclosure, four_eyes
    confidential/  agent (the key agent), sealing (how a record is protected in the store)
    search/        indexing (the index outbox and its drain), listing, volume_search, held_index (the
                   index a server thread keeps open between searches)
    store/         layout (a record in its OCFL object), mime, source_files, new_version (the
                   crash-safe new-version protocol), ingest, revision, batch, retrieval, integrity,
                   recovery, extraction (the worker), deferred, leased_jobs (``dangan worker``: jobs
                   claimed with leases), antivirus (ClamAV at intake),
                   separators + scan_batch (batch scans split at separator sheets), pdfa +
                   ocrmypdf_child (searchable PDF/A copies of scans), group_commit (a batch's groups and
                   their committing thread), analysis (MIME, PRONOM and plain text of a batch's staged
                   files in worker processes), batch_indexing (a large batch's index kept up while it goes on),
                   pronom + pronom_match + pronom_table (identification)
    management/    lending, loan_copy, disposition, disposition_plan, disposition_execute,
                   destruction, destruction_intent, destruction_pending, holds, approvals, inspection, four_property,
                   export_bagit, import_bag, statistics, alerts, declassification
    backup/        api (what faces call), create, lock, prune, purge, restore, verify
    watch/         config, files, handoff, lock, tracker, watcher
    status         ``dangan status``: sections read from backup and watch
    archive        the ``Archive`` facade: an opened archive (config, catalogue, store, index)
    service/       what faces call: each operation resolves the acting user, asks the policy
                   point, does the work and audits, inside core (records, search, lending, holds,
                   disposition, inspection, export, audit, reports, registers, users, volumes,
                   declassification, alerts, backup, watch, worker, catalogue)

Below core: ``dangan.repository`` (OCFL, keystore, crypto, the backup repository format in
``repository/backup``), ``dangan.index`` (the search engine and dangan's analysis) and
``dangan.plugins``.  ``dangan.errors`` and ``dangan.model`` are shared by all.  Core never
imports a face: no click, no web framework (progress is :class:`kernel.progress.Progress`).
"""
