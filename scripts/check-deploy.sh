#!/usr/bin/env bash
# Checks the deployment artefacts offline: renders every kustomize overlay
# under deploy/k8s/overlays and validates it against the Kubernetes schemas
# bundled with kubernetes-validate, then checks deploy/haproxy/haproxy.cfg.
# Installs kubectl (apt), kubernetes-validate (pip) and haproxy (apt) when
# missing. Needs no cluster and no terminal.
# Usage: ./scripts/check-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The oldest Kubernetes the manifests are meant for (autoscaling/v2 and
# policy/v1 are GA well before it); kubernetes-validate bundles its schemas.
K8S_VERSION=${K8S_VERSION:-1.32.0}

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

if ! command -v kubectl >/dev/null; then
  log "kubectl: installing"
  apt_install kubectl || die "kubectl is needed to render the overlays: apt-get install -y kubectl"
fi

kv=(kubernetes-validate)
if ! command -v kubernetes-validate >/dev/null; then
  command -v python3 >/dev/null || apt_install python3 || die "python3 is needed for kubernetes-validate"
  if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
    log "kubernetes-validate: installing (pip)"
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip \
      || die "pip is needed to install kubernetes-validate: apt-get install -y python3-pip"
    pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@" kubernetes-validate; }
    # Debian's own Python refuses pip installs outside a venv (PEP 668).
    pip_install || pip_install --break-system-packages \
      || die "kubernetes-validate is needed to validate the manifests: python3 -m pip install kubernetes-validate"
  fi
  # The module runs the same CLI, wherever pip put (or did not put) the script.
  kv=(python3 -m kubernetes_validate)
fi

if ! command -v haproxy >/dev/null; then
  log "haproxy: installing"
  apt_install haproxy || die "haproxy is needed to check deploy/haproxy/haproxy.cfg: apt-get install -y haproxy"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

overlays=(deploy/k8s/overlays/*/)
[ -d "${overlays[0]}" ] || die "no overlays under deploy/k8s/overlays"
for dir in "${overlays[@]}"; do
  o=$(basename "$dir")
  log "k8s: render and validate overlay $o (Kubernetes $K8S_VERSION, strict)"
  kubectl kustomize "deploy/k8s/overlays/$o" >"$tmp/$o.yaml" 2>"$tmp/$o.err" \
    || { cat "$tmp/$o.err" >&2; die "kubectl kustomize deploy/k8s/overlays/$o failed"; }
  # --strict rejects unknown fields, as `kubectl apply` does: a misspelt
  # key fails here rather than at deploy time.
  "${kv[@]}" --strict --quiet --kubernetes-version "$K8S_VERSION" "$tmp/$o.yaml" >"$tmp/$o.out" 2>&1 \
    || { cat "$tmp/$o.out" >&2; die "overlay $o does not validate against Kubernetes $K8S_VERSION"; }
  # --quiet still prints warnings (e.g. a kind it has no schema for).
  if [ -s "$tmp/$o.out" ]; then cat "$tmp/$o.out"; fi
done

log "haproxy: check deploy/haproxy/haproxy.cfg"
# Sample addresses; haproxy -c resolves and parses but connects to nothing.
LB_PORT=8000 GAME1_PORT=8101 GAME2_PORT=8102 GAME3_PORT=8103 \
  SPAWNER_ADDR=127.0.0.1:8084 MATCHMAKER_ADDR=127.0.0.1:8082 ANALYTICS_ADDR=127.0.0.1:8083 \
  LB_STATS_PORT=8404 \
  haproxy -c -f deploy/haproxy/haproxy.cfg >"$tmp/haproxy.out" 2>&1 \
  || { cat "$tmp/haproxy.out" >&2; die "deploy/haproxy/haproxy.cfg does not pass haproxy -c"; }
grep -F '[WARNING]' "$tmp/haproxy.out" || true
# Without its required variables it must refuse to start, not guess a port.
if env -u LB_PORT -u GAME1_PORT -u GAME2_PORT -u GAME3_PORT \
  haproxy -c -q -f deploy/haproxy/haproxy.cfg >/dev/null 2>&1; then
  die "deploy/haproxy/haproxy.cfg accepts a missing LB_PORT/GAMEn_PORT"
fi

log "deploy: ok"
