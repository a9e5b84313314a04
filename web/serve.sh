#!/usr/bin/env bash
# Start or stop the demo with Debian's nginx and web/nginx.conf (the container's config, with the
# port and the two paths rewritten). Logs, pid and the generated config live in a temp folder.
#   web/serve.sh start [PORT] [EXPORTS_DIR]   (defaults: 8080, volumes/exports)
#   web/serve.sh stop [PORT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action=${1:?usage: serve.sh start|stop [PORT] [EXPORTS_DIR]}
port=${2:-8080}
exports=$(cd "${3:-$here/../volumes/exports}" && pwd)
state=${TMPDIR:-/tmp}/jax2tfjs-web-$port
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

case "$action" in
start)
  [ -x "$nginx_bin" ] || { echo "nginx is not installed: apt-get install nginx" >&2; exit 2; }
  [ -d "$here/node_modules/@tensorflow/tfjs" ] || { echo "TF.js is missing in web/node_modules: run make setup" >&2; exit 2; }
  if [ -f "$state/nginx.pid" ] && kill -0 "$(cat "$state/nginx.pid")" 2>/dev/null; then
    echo "already serving on http://localhost:$port/ (web/serve.sh stop $port)"; exit 0
  fi
  mkdir -p "$state"
  sed -e "s#listen 8080;#listen 127.0.0.1:$port;#" \
      -e "s#/usr/share/nginx/html/models/#$exports/#" \
      -e "s#/usr/share/nginx/html#$here#" "$here/nginx.conf" > "$state/site.conf"
  # Started as root, nginx would run its workers as nobody, who cannot read private folders
  # (pytest's tmp dirs are 0700): run them as whoever starts the demo.
  user_line=""
  [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
  cat > "$state/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $state/nginx.pid;
error_log $state/error.log warn;
events { worker_connections 64; }
http {
  access_log $state/access.log;
  client_body_temp_path $state/body;
  proxy_temp_path $state/proxy;
  fastcgi_temp_path $state/fastcgi;
  uwsgi_temp_path $state/uwsgi;
  scgi_temp_path $state/scgi;
  sendfile on;
  include $state/site.conf;
}
CONF
  "$nginx_bin" -t -q -c "$state/nginx.conf" -p "$state" 2>"$state/test.log" || { cat "$state/test.log" >&2; exit 2; }
  "$nginx_bin" -c "$state/nginx.conf" -p "$state"
  echo "serving web/ and $exports on http://localhost:$port/ (logs: $state; stop: make web-stop)"
  ;;
stop)
  if [ -f "$state/nginx.pid" ]; then
    kill "$(cat "$state/nginx.pid")" 2>/dev/null || true
    rm -f "$state/nginx.pid"
    echo "stopped the demo on port $port"
  else
    echo "nothing serving on port $port"
  fi
  ;;
*) echo "usage: serve.sh start|stop [PORT] [EXPORTS_DIR]" >&2; exit 2 ;;
esac
