"""The ``freightyard-cmp`` launcher, kept tiny because Argo CD starts it for every render.

``generate`` is handed to the sidecar's warm render server when one is running (no imports to
pay, only the kustomize/helm run); otherwise it renders in-process and starts the server for the
next call. ``FREIGHTYARD_CMP_SERVER=off`` always renders in-process.
"""

import os
import sys


def main() -> int:
    args = sys.argv[1:]
    use_server = args[:1] == ["generate"] and os.environ.get("FREIGHTYARD_CMP_SERVER", "on") != "off"
    if use_server:
        from cmp import client

        served = client.render(os.environ, os.getcwd())
        if served is not None:
            return client.finish(*served)
    from cmp.main import main as run_in_process

    code = run_in_process(args)
    if use_server:
        from cmp import client

        client.start_server(os.environ)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
