"""The web UI served by the opsml server at ``/``: server-rendered HTML (Jinja2 templates in
``templates/``), inline SVG charts and a small enhancement script in ``static/``.

``install_ui`` lives in ``_routes`` (imported by the app factory), so the chart and file
helpers can be used without the server extra's packages.
"""
