"""The web server's fault table: what nginx must not serve, idle clients, and two checkouts.

Each row is a faultkit `Case` run by `run_case` (exit code, no traceback, volumes intact, no
leftovers). The commands are what a user or a browser does: an HTTP client (a few lines of Python
in the convert venv, below) or web/serve.sh of a second checkout.

One nginx serves the whole table (a module fixture, started by this checkout's web/serve.sh on a
free port), not one per case: it serves a copy of the base volumes' exports made once per module,
with the leftovers of interrupted jobs planted in it (a swap's hidden `.none.old-<ns>/`, a staging
`.none.<rand>.tmp/`, an atomic write's `.index.json.<rand>.tmp`, a plain `index.json.tmp`, the lock
file). The harness's per-case volumes are still copied and checked, but they cannot be the served
copy: the planted leftovers would fail the harness's own leftover check, and what nginx answers
does not depend on which copy it reads. Commands name the server with @URL@, @PORT@ and @PORT2@
(a second free port), filled in by `bound`; setups and checks take the server first.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from faultkit import Case, Volumes, base_volumes_fixture, case_volumes, run_case

from conftest import ROOT

base_volumes = pytest.fixture(scope="session")(base_volumes_fixture)

SERVE = ROOT / "web" / "serve.sh"
PAGE_FILES = ("serve.sh", "nginx.conf", "index.html", "style.css", "package.json", "js")
# Prints `HTTP <status> <path>` for each path under the base URL; exit 1 if nginx does not answer
# within 2 s. (Braces are doubled: faultkit fills commands with str.format.)
FETCH = """
import sys, urllib.error, urllib.request
base, paths = sys.argv[1], sys.argv[2:]
for path in paths:
    try:
        status = urllib.request.urlopen(base + path, timeout=2).status
    except urllib.error.HTTPError as err:
        status = err.code
    except OSError as err:
        sys.exit(f"no answer for {{path}} within 2 s: {{err}}")
    print("HTTP", status, path)
"""
# 200 clients that start a request and stall mid-headers (a slow link, a frozen tab), in batches
# that nginx reads: each then holds one of its connections. (Connections that send nothing at all
# nginx closes by itself when short of connections, so they cannot show the limit.) Then one more
# client asks for the page: answered within 2 s, or exit 1.
IDLE_CLIENTS = """
import socket, sys, time, urllib.request
port = int(sys.argv[1])
stalled = []
for n in range(200):
    client = socket.create_connection(("127.0.0.1", port), timeout=2)
    client.sendall(b"GET / HTTP/1.1\\r\\nHost: localhost\\r\\n")
    stalled.append(client)
    if n % 10 == 9:
        time.sleep(0.02)
time.sleep(0.5)
start = time.monotonic()
try:
    status = urllib.request.urlopen(f"http://127.0.0.1:{{port}}/", timeout=2).status
except OSError as err:
    sys.exit(f"no answer within 2 s with {{len(stalled)}} stalled clients connected: {{err!r}}")
print("HTTP", status, f"in {{time.monotonic() - start:.2f}} s with {{len(stalled)}} stalled clients connected")
"""
PAGE_PATHS = (
    "/",
    "/index.html",
    "/style.css",
    *(f"/js/{p.name}" for p in sorted((ROOT / "web" / "js").glob("*.js"))),
    "/vendor/tfjs/tf.es2017.min.js",
    "/vendor/tfjs-backend-wasm/tf-backend-wasm.es2017.min.js",
    "/vendor/tfjs-backend-wasm/tfjs-backend-wasm.wasm",
    "/vendor/tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm",
    "/models/index.json",
    "/models/flax_mlp/none/model.json",
    "/models/flax_mlp/none/golden.json",
    "/models/flax_mlp/none/group1-shard1of1.bin",
    "/models/flax_mlp/uint8/model.json",
)
STALE_PID_SLEEPER: dict[Path, subprocess.Popen] = {}  # case volumes → the process a stale pid names


@dataclass(frozen=True)
class Served:
    url: str
    port: int
    other_port: int  # free when the module started: for the second checkout
    exports: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(url: str) -> int | None:
    """The HTTP status nginx answers with, or None when nothing answers."""
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return None


def serve(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=60)


def plant_leftovers(exports: Path) -> None:
    """What killed or concurrent jobs leave in an exports volume (see export/swap.py, atomic.py)."""
    old = exports / "flax_mlp" / ".none.old-1732000000000000000"
    shutil.copytree(exports / "flax_mlp" / "none", old)
    staging = exports / "flax_mlp" / ".none.k2v8x1.tmp"
    shutil.copytree(exports / "flax_mlp" / "none", staging)
    (exports / ".index.json.q7w3e9.tmp").write_text('{"exports": []}')
    (exports / "index.json.tmp").write_text('{"exports": []}')
    (exports / ".jax2tfjs.lock").write_text("")


@pytest.fixture(scope="module")
def served(base_volumes, tmp_path_factory):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: apt-get install nginx (.ci/run installs it)")
    exports = tmp_path_factory.mktemp("web-faults") / "exports"
    shutil.copytree(base_volumes / "exports", exports)
    plant_leftovers(exports)
    port = free_port()
    started = serve(SERVE, "start", str(port), str(exports))
    assert started.returncode == 0, started.stderr
    try:
        yield Served(f"http://127.0.0.1:{port}", port, free_port(), exports)
    finally:
        serve(SERVE, "stop", str(port))


def bound(case: Case, server: Served) -> Case:
    """The row with the server's URL and ports in its command, and the server given to its hooks."""

    def fill(part: str) -> str:
        return (
            part.replace("@URL@", server.url)
            .replace("@PORT2@", str(server.other_port))
            .replace("@PORT@", str(server.port))
        )

    return dataclasses.replace(
        case,
        command=tuple(fill(part) for part in case.command),
        setup=case.setup and functools.partial(case.setup, server),
        check=case.check and functools.partial(case.check, server),
    )


def other_checkout(volumes: Volumes) -> Path:
    """A second checkout of the page (its own web/, TF.js linked), as a user's second clone is."""
    web = volumes.tmp / "other-checkout" / "web"
    web.mkdir(parents=True)
    for name in PAGE_FILES:
        source = ROOT / "web" / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, web / name)
    (web / "node_modules").symlink_to(ROOT / "web" / "node_modules")
    return web / "serve.sh"


def with_other_checkout(server: Served, volumes: Volumes) -> None:
    other_checkout(volumes)


def ours_still_serves(server: Served, volumes: Volumes, result) -> None:
    assert status_of(server.url + "/models/index.json") == 200, "this checkout's nginx stopped answering"


def other_serves_beside_ours(server: Served, volumes: Volumes, result) -> None:
    other = volumes.tmp / "other-checkout" / "web" / "serve.sh"
    try:
        assert status_of(f"http://127.0.0.1:{server.other_port}/") == 200
        ours_still_serves(server, volumes, result)
    finally:
        stopped = serve(other, "stop", str(server.other_port))
    assert "stopped the demo" in stopped.stdout, stopped.stdout + stopped.stderr
    assert status_of(f"http://127.0.0.1:{server.other_port}/") is None, (
        "the other checkout's nginx still runs"
    )
    ours_still_serves(server, volumes, result)


def stale_pid_of_a_stranger(server: Served, volumes: Volumes) -> None:
    """The other checkout served once, then (say) the machine rebooted: its pid file now names an
    unrelated live process."""
    other = other_checkout(volumes)
    started = serve(other, "start", str(server.other_port), str(server.exports))
    assert started.returncode == 0, started.stderr
    state = Path(started.stdout.split("(logs: ")[1].split(";")[0])
    pid = (state / "nginx.pid").read_text()
    assert serve(other, "stop", str(server.other_port)).returncode == 0
    stranger = subprocess.Popen(["sleep", "120"])
    STALE_PID_SLEEPER[volumes.root] = stranger
    (state / "nginx.pid").write_text(f"{stranger.pid}\n")
    assert pid != str(stranger.pid)


def the_stranger_lives(server: Served, volumes: Volumes, result) -> None:
    stranger = STALE_PID_SLEEPER.pop(volumes.root)
    alive = stranger.poll() is None
    stranger.send_signal(signal.SIGKILL)
    stranger.wait()
    assert alive, "serve.sh stop killed a process that is not its nginx"


def denied(name: str, path: str) -> Case:
    return Case(
        name=name,
        command=("{convert}", "-c", FETCH, "@URL@", path),
        exit_code=0,
        output_has=(f"HTTP 404 {path}",),
    )


CASES = [
    Case(
        name="the page, TF.js and the exports still answer 200",
        command=("{convert}", "-c", FETCH, "@URL@", *PAGE_PATHS),
        exit_code=0,
        output_has=tuple(f"HTTP 200 {path}\n" for path in PAGE_PATHS),
    ),
    denied("the nginx config in web/ is not served", "/nginx.conf"),
    denied("web/serve.sh is not served", "/serve.sh"),
    denied("web/package.json is not served", "/package.json"),
    denied("web/package-lock.json is not served", "/package-lock.json"),
    denied(
        "node_modules beyond TF.js's dist files is not served", "/node_modules/@tensorflow/tfjs/package.json"
    ),
    denied("TF.js's package.json is not served under /vendor/", "/vendor/tfjs/package.json"),
    denied(
        "a killed swap's hidden old export is not served",
        "/models/flax_mlp/.none.old-1732000000000000000/model.json",
    ),
    denied("a killed convert's staging folder is not served", "/models/flax_mlp/.none.k2v8x1.tmp/model.json"),
    denied("the exports volume's lock file is not served", "/models/.jax2tfjs.lock"),
    denied("an atomic write's hidden temp file is not served", "/models/.index.json.q7w3e9.tmp"),
    denied("a *.tmp file in the exports is not served", "/models/index.json.tmp"),
    denied("the exports volume is not listed", "/models/"),
    Case(
        name="200 clients stalled mid-request: the page is still answered within 2 s",
        command=("{convert}", "-c", IDLE_CLIENTS, "@PORT@"),
        exit_code=0,
        output_has=("HTTP 200 in", "with 200 stalled clients connected"),
    ),
    Case(
        name="another checkout's serve.sh stop on our port leaves our nginx serving",
        command=("{tmp}/other-checkout/web/serve.sh", "stop", "@PORT@"),
        setup=with_other_checkout,
        exit_code=0,
        output_has=("this checkout serves nothing on port",),
        check=ours_still_serves,
    ),
    Case(
        name="another checkout's serve.sh start on our port: port in use, exit 2",
        command=("{tmp}/other-checkout/web/serve.sh", "start", "@PORT@", "{exports}"),
        setup=with_other_checkout,
        exit_code=2,
        output_has=("is in use by another process", "WEB_PORT="),
        check=ours_still_serves,
    ),
    Case(
        name="two checkouts serve side by side on two ports; each stop stops its own",
        command=("{tmp}/other-checkout/web/serve.sh", "start", "@PORT2@", "{exports}"),
        setup=with_other_checkout,
        exit_code=0,
        output_has=("serving web/",),
        check=other_serves_beside_ours,
    ),
    Case(
        name="a stale pid file naming another process: stop signals nothing",
        command=("{tmp}/other-checkout/web/serve.sh", "stop", "@PORT2@"),
        setup=stale_pid_of_a_stranger,
        exit_code=0,
        output_has=("this checkout serves nothing on port",),
        check=the_stranger_lives,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case, served, base_volumes, tmp_path):
    run_case(bound(case, served), case_volumes(base_volumes, tmp_path))
