"""The web face of dangan (``dangan serve``): pages in Chinese for staff, heads and archivists, and ``/api/v1``.

A face like the CLI: every request acts as the signed-in user through the same core calls (``web.ops``),
the one policy point and the audit trail.  Modules: ``app`` (routes, sign-in, CSRF, dispatch), ``context``
(per-thread archives, the web actor), ``http`` (security headers, download names, bounded bodies,
status codes), ``ops`` (the core calls), ``pages``, ``api``, ``openapi``, ``render`` (Jinja2, the UI's
words); ``templates/`` and ``static/`` (vendored CSS and JS, no CDN).
"""
