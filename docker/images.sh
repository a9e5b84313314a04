#!/usr/bin/env bash
# `make images`: build the train and convert images with docker or podman under the names
# compose.yaml uses (jax2tfjs-<folder>:local for docker/<folder>/Dockerfile), check that each one
# runs, and print its build time and size.
#   docker/images.sh ENGINE
# The base images (the Dockerfiles' FROM lines and compose.yaml's nginx) must be here already or
# pullable; when the registry cannot be reached this says so and offers `make base-images`.
# CA_MOUNTS (set by the Makefile from CA_BUNDLE, podman only): the -v flags that let pip and npm in a
# build trust an intercepting proxy's CA (docs/containers.md).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 docker|podman" >&2; exit 2; }
engine=$1
die() { echo "[images] error: $*" >&2; exit 2; }
say() { echo "[images] $*"; }
command -v "$engine" >/dev/null ||
  die "no container engine here ($engine is not installed): install Docker, or podman with apt-get install podman runc (docs/containers.md)"
"$engine" info >/dev/null 2>&1 || die "$engine does not answer ($engine info failed)"

read -ra ca <<<"${CA_MOUNTS:-}"
if [ ${#ca[@]} -gt 0 ] && [ "$engine" = docker ]; then
  say "CA_BUNDLE is used by podman builds only (docker build cannot bind-mount); ignored here"
  ca=()
fi

bases=$(sed -n 's/^FROM \([^ ]*\).*/\1/p' docker/*/Dockerfile | sort -u)
bases+=" $(sed -n 's/^ *image: \(nginx:[^ ]*\)$/\1/p' compose.yaml)"
for base in $bases; do
  "$engine" image inspect "$base" >/dev/null 2>&1 && continue
  say "pulling $base"
  if ! out=$(timeout 600 "$engine" pull "$base" 2>&1); then
    echo "$out" | tail -3 >&2
    die "the base image $base is not here and cannot be pulled (is the registry reachable?).
  Without a registry, build local stand-ins from Debian's archive and the npm registry:
    make base-images RUNNER=$engine      (needs root; docs/containers.md)
  then run make images again."
  fi
done

pull=()
[ "$engine" = podman ] && pull=(--pull=never) # the bases are here now; never reach for a registry again
for dockerfile in docker/train/Dockerfile docker/convert/Dockerfile; do
  name=$(basename "$(dirname "$dockerfile")")
  tag=jax2tfjs-$name:local
  t0=$SECONDS
  say "building $tag from $dockerfile"
  "$engine" build "${pull[@]}" "${ca[@]}" -f "$dockerfile" -t "$tag" . || die "building $tag failed (output above)"
  # The image must import what users import, as the user the jobs run as.
  "$engine" run --rm --user 1000:1000 --entrypoint python "$tag" -c "import jax2tfjs, jax" ||
    die "$tag was built but cannot import jax2tfjs"
  if [ "$name" = convert ]; then
    "$engine" run --rm --entrypoint python "$tag" -c "from jax2tfjs.tfjs_runtime import check_setup; check_setup()" ||
      die "$tag was built but its TF.js runtime is incomplete"
  fi
  size=$("$engine" image inspect --format '{{.Size}}' "$tag")
  say "$tag: built in $((SECONDS - t0)) s, $((size / 1000000)) MB"
done
