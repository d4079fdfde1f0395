"""The ApplicationSet plugin generator: one Application per stage × app, following promoted freight.

Entry point: ``generator.app:create_app()`` (gunicorn: ``gunicorn -c python:generator.gunicorn_conf
'generator.app:create_app()'``).
"""
