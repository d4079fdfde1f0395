"""The ``freightyard-cmp`` launcher, kept tiny because Argo CD starts it for every render.

``generate`` is handed to the sidecar's warm render server when one is running (no imports to
pay, only the kustomize/helm run); otherwise it renders in-process and starts the server for the
next call. ``FREIGHTYARD_CMP_SERVER=off`` always renders in-process.

``freightyard-cmp sidecar -- CMD…`` is the sidecar's entry point: it starts the render server, then
becomes ``CMD`` (``/var/run/argocd/argocd-cmp-server``), so even the first render is warm.
"""

import os
import sys

ARGOCD_CMP_SERVER = "/var/run/argocd/argocd-cmp-server"


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["sidecar"]:
        return sidecar(args[1:])
    use_server = args[:1] == ["generate"] and os.environ.get("FREIGHTYARD_CMP_SERVER", "on") != "off"
    if use_server:
        from freightyard.cmp import client

        served = client.render(os.environ, os.getcwd())
        if served is not None:
            return client.finish(*served)
    from freightyard.cmp.main import main as run_in_process

    code = run_in_process(args)
    if use_server:
        from freightyard.cmp import client

        client.start_server(os.environ)
    return code


def sidecar(args: list[str]) -> int:
    from freightyard.cmp import client

    target = args[1:] if args[:1] == ["--"] else args
    target = target or [ARGOCD_CMP_SERVER]
    if os.environ.get("FREIGHTYARD_CMP_SERVER", "on") != "off":
        client.start_server(os.environ)
    try:
        os.execv(target[0], target)  # noqa: S606 - the sidecar's own command, from its manifest
    except OSError as error:
        sys.stderr.write(f"freightyard-cmp sidecar: cannot run {target[0]}: {error.strerror}\n")
        return 127
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
