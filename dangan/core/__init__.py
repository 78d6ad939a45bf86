"""dangan's core: everything a face (CLI, web, API, worker) calls, in capability packages.

The map, lowest layer first.  A package may import the packages above it in this list, never one
below it (``tests/project/test_import_layers.py`` walks every import, lazy ones included, and fails on a
new upward edge; the few that exist today are listed there by file, as debts to pay off)::

    kernel/        config, config_schema, actor (who is acting), clock (UTC now, the catalogue's
                   time text), plugin_host, pipeline, progress (the callback long work reports to),
                   archive_trust (whose archive this is), permissions (0700/0600), memory_tmp
                   (transient plaintext folders, swept after a crash)
    catalogue/     connection (SQLite or PostgreSQL, migrations), db (the one SQL dialect on both
                   engines), pg_rows (PostgreSQL's rows and cursors as sqlite3 gives them), pg_driver
                   (psycopg imported without the distribution scan), location (where the catalogue
                   is), leases (a write's lease, alive across machines), folded (folded columns),
                   transfer (the move to PostgreSQL), health, records, fields, audit, audit_anchor,
                   checkpoint_log (the audit checkpoints: a file, or one object each in the bucket),
                   audit_verify, volumes, tombstones, outbox (the index outbox: the change log search
                   nodes follow, their cursors, pruning), rowid (the id an INSERT made)
    policy/        users, departments, access (the one policy point: require/visibility),
                   loan_policy, disclosure, four_eyes, separation (three administrators kept apart),
                   credentials (the web face's passwords, sessions, API tokens)
    confidential/  agent (the key agent), sealing (how a record is protected in the store),
                   server_keys (volume keys a server process holds in memory)
    search/        indexing (the index outbox and its drain, reindex), nodes (a folder's index
                   follows the change log by its own cursor), listing, volume_search, search_access
                   (access filtering inside the engine's query), held_index (the index a server
                   keeps open between searches)
    store/         layout (a record in its OCFL object), mime, source_files, new_version (the
                   crash-safe new-version protocol), group_commit (a batch's records committed
                   together), ingest, manifest (ingest with a CSV or xlsx sheet), revision, batch,
                   batch_indexing (a large batch's index kept up while it goes on), retrieval,
                   retrieval_stream (one file streamed to a face), integrity, recovery, renumber (a
                   record whose piece number another took while its write was interrupted),
                   extraction (the worker), deferred, leased_jobs (dangan worker: jobs claimed with
                   leases), antivirus (ClamAV at intake), analysis (a staged file's MIME type,
                   format and text found in worker processes), pronom + pronom_match + pronom_table
                   (PRONOM identification with fido, its signatures cached as a table),
                   derivative_formats (the PDF/A copy, text and thumbnail described and identified),
                   format_backfill (dangan identify), separators + scan_batch + scan_resume (batch
                   scans split at separator sheets, finished after a crash), pdfa + ocrmypdf_child
                   (searchable PDF/A copies of scans)
    management/    lending, loan_copy, disposition, disposition_plan, disposition_execute,
                   destruction, destruction_intent, destruction_pending, holds, approvals,
                   inspection, four_property, export_bagit, import_bag, transfer_xml + transfer_sign
                   (DA/T 48 metadata and its signature block), statistics, alerts, declassification,
                   locations (where paper originals are), volume_life (a volume's particulars, filer
                   and checker), volume_move + reseal (a record moved into or out of a confidential
                   volume), spreadsheets (CSV and xlsx tables), forms/ (printable PDF forms, one
                   module per form)
    backup/        api (what faces call), create, lock, prune, purge, restore, verify (the
                   repository format is repository/backup)
    watch/         config, files, handoff, lock, tracker, watcher
    status         dangan status: sections read from backup and watch
    archive        the Archive facade: an opened archive (config, catalogue, store, index)
    service/       what faces call: each operation resolves the acting user, asks the policy point,
                   does the work and audits, inside core: session, records, search, lending, holds,
                   disposition, inspection, export, audit, reports, registers, users, volumes,
                   declassification, alerts, backup, watch, worker, catalogue, forms, sheets,
                   locations, idempotency (an API ingest's Idempotency-Key, held by a lease)

Below core: ``dangan.repository`` (OCFL, keystore, crypto, the backup repository format in
``repository/backup``), ``dangan.index`` (the search engine and dangan's analysis) and
``dangan.plugins``.  ``dangan.errors`` and ``dangan.model`` are shared by all.  Core never
imports a face: no click, no web framework (progress is :class:`kernel.progress.Progress`).
"""
