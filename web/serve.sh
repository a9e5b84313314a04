#!/usr/bin/env bash
# Start or stop the demo with Debian's nginx and web/nginx.conf (the container's config, with the
# port and the two paths rewritten).
#   web/serve.sh start [PORT] [EXPORTS_DIR] [ZOO_DIR]   (defaults: 8080, volumes/exports, volumes/zoo)
#   web/serve.sh stop [PORT]
# Logs, pid and the generated config live in a state folder keyed by this checkout and the port,
# so two checkouts never share one: `stop` stops this checkout's nginx only. Exit 2: nginx or TF.js
# missing, the port taken by another process, a bad argument or config.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
usage="usage: web/serve.sh start|stop [PORT] [EXPORTS_DIR] [ZOO_DIR]"
action=${1:-}
port=${2:-8080}
if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  echo "PORT must be 1-65535, not '$port'" >&2
  exit 2
fi
checkout_key=$(printf '%s' "$here" | sha256sum | cut -c1-12)
state=${TMPDIR:-/tmp}/jax2tfjs-web-$checkout_key-$port
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
# Each connection holds a socket and, while sending, a file: two descriptors per connection.
connections=1024

# The pid of this checkout's nginx on this port, if it runs. The command line is checked so that a
# stale pid file (after a reboot) never makes us report or signal someone else's process.
running_pid() {
  local pid args
  pid=$(cat "$state/nginx.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  args=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || ps -o args= -p "$pid" 2>/dev/null) || return 1
  [[ $args == *"-c $state/nginx.conf"* ]]
}

# Paths go into nginx's config inside double quotes and through sed: refuse what would break either.
check_path() {
  case "$1" in
  *[\"\$\\]* | *$'\n'*) echo "$2 must not contain \", \$, \\ or a newline: $1" >&2; exit 2 ;;
  esac
}
sed_escape() { printf '%s' "$1" | sed -e 's/[&#]/\\&/g'; }

write_config() {
  local exports=$1 zoo=$2 nofile=$((2 * connections)) hard user_line=""
  hard=$(ulimit -Hn)
  # Root may raise the open-files limit (worker_rlimit_nofile); anyone else lives within it.
  if [ "$(id -u)" != 0 ] && [ "$hard" != unlimited ] && ((hard < nofile)); then
    nofile=$hard connections=$((hard / 2))
    echo "warning: the open-files limit is $hard (ulimit -Hn): $connections connections at most" >&2
  fi
  mkdir -p "$state"
  sed -e "s#listen 8080;#listen 127.0.0.1:$port;#" \
    -e "s#/usr/share/nginx/models/#$(sed_escape "$exports")/#" \
    -e "s#/usr/share/nginx/zoo/#$(sed_escape "$zoo")/#" \
    -e "s#/usr/share/nginx/html#$(sed_escape "$here")#" "$here/nginx.conf" >"$state/site.conf"
  # Started as root, nginx would run its workers as nobody, who cannot read private folders
  # (pytest's tmp dirs are 0700): run them as whoever starts the demo.
  [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"
  cat >"$state/nginx.conf" <<CONF
$user_line
worker_processes 1;
worker_rlimit_nofile $nofile;
pid "$state/nginx.pid";
error_log "$state/error.log" warn;
events { worker_connections $connections; }
http {
  access_log "$state/access.log";
  client_body_temp_path "$state/body";
  proxy_temp_path "$state/proxy";
  fastcgi_temp_path "$state/fastcgi";
  uwsgi_temp_path "$state/uwsgi";
  scgi_temp_path "$state/scgi";
  sendfile on;
  include "$state/site.conf";
}
CONF
  "$nginx_bin" -t -q -c "$state/nginx.conf" -p "$state" 2>"$state/test.log" || { cat "$state/test.log" >&2; exit 2; }
}

case "$action" in
start)
  [ -x "$nginx_bin" ] || { echo "nginx is not installed: apt-get install nginx" >&2; exit 2; }
  [ -d "$here/node_modules/@tensorflow/tfjs" ] || { echo "TF.js is missing in web/node_modules: run make setup" >&2; exit 2; }
  exports_arg=${3:-$here/../volumes/exports}
  [ -d "$exports_arg" ] || { echo "the exports folder does not exist: $exports_arg (run make convert)" >&2; exit 2; }
  exports=$(cd "$exports_arg" && pwd -P)
  # The model zoo's exports (make zoo) for the inspector page, at /zoo/; optional: an empty folder
  # in the state folder stands in when there are none.
  zoo_arg=${4:-$here/../volumes/zoo}
  if [ -d "$zoo_arg" ]; then zoo=$(cd "$zoo_arg" && pwd -P); else zoo=$state/no-zoo; mkdir -p "$zoo"; fi
  check_path "$here" "the checkout's path"
  check_path "$exports" "EXPORTS_DIR"
  check_path "$zoo" "ZOO_DIR"
  check_path "$state" "the state folder (TMPDIR)"
  if running_pid; then
    # Already ours on this port: pick up a changed config or exports folder without a restart.
    write_config "$exports" "$zoo"
    kill -HUP "$(cat "$state/nginx.pid")"
    echo "already serving on http://localhost:$port/, config reloaded (stop: web/serve.sh stop $port)"
    exit 0
  fi
  write_config "$exports" "$zoo"
  if ! "$nginx_bin" -c "$state/nginx.conf" -p "$state" 2>"$state/start.log"; then
    if grep -q "Address already in use" "$state/start.log"; then
      echo "port $port is in use by another process (another checkout's demo or another server):" \
        "stop it, or pick a free port (make web WEB_PORT=8081)" >&2
    else
      cat "$state/start.log" >&2
    fi
    exit 2
  fi
  echo "serving web/ and $exports on http://localhost:$port/ (logs: $state; stop: make web-stop)"
  ;;
stop)
  if running_pid; then
    pid=$(cat "$state/nginx.pid")
    kill "$pid" 2>/dev/null || true  # it may have exited since running_pid looked
    # Wait for the port to be free, so that a start right after this one can bind it.
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$state/nginx.pid"
    echo "stopped the demo on port $port"
  else
    rm -f "$state/nginx.pid"
    echo "this checkout serves nothing on port $port"
  fi
  ;;
*) echo "$usage" >&2; exit 2 ;;
esac
