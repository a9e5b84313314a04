"""A static file server on 127.0.0.1 for the browser runner: the page, TF.js's bundles, the exports.

Each URL prefix ("/page/", "/exports/3/") is mounted on one folder and nothing above it is served, so
the browser sees only what a check put there. Port 0: the kernel picks a free port, two runs never
collide. The server lives in a daemon thread for the `serving` block and is shut down after it.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

# Types the page needs right: WebAssembly.instantiateStreaming refuses a .wasm served otherwise.
_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".json": "application/json"}


class MountedServer(ThreadingHTTPServer):
    """`mounts` maps a URL prefix ("/page/") to a folder; callers may add mounts while it serves."""

    daemon_threads = True

    def __init__(self, mounts: dict[str, Path]):
        self.mounts = dict(mounts)
        super().__init__(("127.0.0.1", 0), _Handler)

    def mount(self, prefix: str, folder: Path) -> str:
        """Serve `folder` under /prefix/; returns that URL path."""
        self.mounts[f"/{prefix.strip('/')}/"] = Path(folder).resolve()
        return f"/{prefix.strip('/')}/"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(SimpleHTTPRequestHandler):
    server: MountedServer
    extensions_map: ClassVar[dict[str, str]] = {**SimpleHTTPRequestHandler.extensions_map, **_TYPES}

    def translate_path(self, path: str) -> str:
        """The file under the longest matching mount, or a path that does not exist (a 404): a URL
        outside every mount, or one that climbs out of its folder ("..", a symlink), serves nothing."""
        url_path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for prefix in sorted(self.server.mounts, key=len, reverse=True):
            if url_path.startswith(prefix):
                root = self.server.mounts[prefix]
                target = (root / url_path[len(prefix) :]).resolve()
                if target == root or root in target.parents:
                    return str(target)
        return str(Path("/nonexistent-jax2tfjs") / "404")

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")  # a re-converted export is never served stale
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # a request line per shard would bury the check's own output


@contextlib.contextmanager
def serving(mounts: dict[str, Path] | None = None) -> Iterator[MountedServer]:
    server = MountedServer(mounts or {})
    thread = threading.Thread(target=server.serve_forever, name="jax2tfjs-browser-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
