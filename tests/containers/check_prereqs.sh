#!/usr/bin/env bash
# `make test-containers`'s first step: podman and its helpers (Debian 12's podman 4.3 with runc,
# netavark and aardvark-dns for the compose network, iptables for published ports), debootstrap for
# `make base-images`, curl for the web check. As root with apt-get, installs what is missing;
# otherwise prints the exact command and exits 2. RUNNER=docker needs none of this.
set -euo pipefail
packages=()
for pair in podman:podman runc:runc debootstrap:debootstrap netavark:/usr/lib/podman/netavark \
  aardvark-dns:/usr/lib/podman/aardvark-dns iptables:iptables curl:curl; do
  package=${pair%%:*} program=${pair#*:}
  command -v "$program" >/dev/null || [ -x "$program" ] || packages+=("$package")
done
((${#packages[@]})) || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "[prereqs] installing with apt-get: ${packages[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
  exit 0
fi
echo "[prereqs] missing: ${packages[*]}" >&2
echo "[prereqs] install them: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
exit 2
