#!/usr/bin/env bash
# `make test`'s first step: the system programs the suites need, checked in a second rather than
# found missing minutes into the run. Python 3.11 with venv (the venvs), Node >= 20 with npm (TF.js in
# Node), nginx and Debian's chromium (the web tests: real nginx, headless chromium; never a
# downloaded browser). When some are missing: as root with apt-get, install them; otherwise print
# the exact command and exit 2.
set -euo pipefail

# Node 20 is what the lock files and images are tested with; Debian 12's own nodejs is 18, which
# runs TF.js 4.22 too (a warning, not a stop); older ones lack the fetch/WebAssembly TF.js needs.
NODE_MIN=18
NODE_TESTED=20
packages=()
notes=()

python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 || packages+=(python3.11 python3.11-venv)
if ! command -v node >/dev/null; then
  packages+=(nodejs)
else
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if ((node_major < NODE_MIN)); then
    notes+=("node $(node --version) is older than ${NODE_MIN}: install Node ${NODE_TESTED} (e.g. NodeSource's nodejs ${NODE_TESTED}.x)")
  elif ((node_major < NODE_TESTED)); then
    echo "[prereqs] warning: node $(node --version): the project is tested with Node ${NODE_TESTED}" >&2
  fi
fi
command -v npm >/dev/null || packages+=(npm)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || packages+=(nginx)
[ -x /usr/bin/chromium ] || packages+=(chromium)

install_command="apt-get update && apt-get install -y --no-install-recommends ${packages[*]:-}"
if ((${#packages[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ -z "${PREREQS_INSTALLED:-}" ]; then
    echo "[prereqs] installing with apt-get: ${packages[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
    # Check again, once: what apt installed must now be there, and new enough.
    PREREQS_INSTALLED=1 exec bash "$0"
  fi
  echo "[prereqs] missing: ${packages[*]}" >&2
  echo "[prereqs] install them, then run make test again: sudo sh -c '${install_command}'" >&2
  exit 2
fi
if ((${#notes[@]})); then
  printf '[prereqs] %s\n' "${notes[@]}" >&2
  exit 2
fi
echo "[prereqs] ok: $(python3.11 --version 2>&1), node $(node --version), npm $(npm --version 2>/dev/null), nginx, chromium"
