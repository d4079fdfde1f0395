"""The ApplicationSet plugin generator: one Application per stage × app, following promoted freight.

Entry point: ``freightyard.generator.app:create_app()`` (gunicorn:
``gunicorn -c python:freightyard.generator.gunicorn_conf 'freightyard.generator.app:create_app()'``).
"""
