"""The thin Kubernetes layer: the only package that imports the official ``kubernetes`` client.

Callers get a ``KubeApi`` handle from ``client.make_api`` and pass it to one-verb-per-noun modules
(``configmaps``, ``applications``, ``leases``); they see plain dicts and our own exceptions
(``errors``), never client models or ``ApiException``.
"""
