"""Launch headless Chromium through Playwright, with the flags and the profile folder checks need.

The browser is the system's Chromium ($JAX2TFJS_CHROMIUM, default /usr/bin/chromium): Playwright
drives it as is and never downloads one. Each launch gets a fresh profile in
$TMPDIR/jax2tfjs-browser-<pid>-* (temp_dir), removed afterwards; a launch finds and removes the folders that
killed runs (SIGKILL) left, as the Node runners do with theirs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jax2tfjs import atomic
from jax2tfjs.errors import BrowserError

CHROMIUM_ENV = "JAX2TFJS_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Measured with Chromium 156 headless on a machine without a GPU: --disable-gpu still gives WebGL2 with
# float32 render targets (ANGLE on SwiftShader, the software rasterizer), the same as launching without
# it plus --enable-unsafe-swiftshader --use-angle=swiftshader, so the flags the web tests use serve
# here too. Under them navigator.gpu exists but requestAdapter() returns null; the two WebGPU flags
# give it SwiftShader's Vulkan adapter (even with --disable-gpu), so TF.js's webgpu backend runs too
# (slowly: software). A machine whose Chromium still offers no adapter reports webgpu "not offered".
# The rest keep a check offline and quiet.
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--enable-unsafe-webgpu",
    "--use-webgpu-adapter=swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
PROFILE_KIND = "browser"
_PROFILE = re.compile(rf"^jax2tfjs-{PROFILE_KIND}-(\d+)-")
INSTALL_FIX = (
    "apt-get install chromium (or set JAX2TFJS_CHROMIUM to a Chromium binary); Playwright uses it as is, "
    "never `playwright install`"
)


def chromium_path() -> Path:
    """The Chromium binary checks launch, or BrowserError saying how to get one."""
    configured = os.environ.get(CHROMIUM_ENV)
    path = Path(configured).expanduser() if configured else Path(DEFAULT_CHROMIUM)
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"${CHROMIUM_ENV} names {path}" if configured else f"Chromium is not at {path}"
        raise BrowserError(f"{where}, which is not an executable file", fix=INSTALL_FIX, path=path)
    return path


def sync_playwright() -> Any:
    """Playwright's sync entry point, or BrowserError when the package is not installed."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError as err:
        raise BrowserError(
            f"Playwright is not installed in this environment ({err})",
            fix="install the convert env's pinned playwright (`make setup`; pip install playwright==1.65.2)",
        ) from None
    return start()


def remove_orphaned_profiles(root: str | Path | None = None) -> list[Path]:
    """Profile folders of launches whose process is gone (killed before its own cleanup)."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob(f"jax2tfjs-{PROFILE_KIND}-*"):
        owner = _PROFILE.match(path.name)
        if not (owner and path.is_dir()) or atomic.in_flight(path):
            continue
        try:
            alive = atomic.owner_alive(int(owner[1]), path.stat().st_mtime)
        except FileNotFoundError:
            continue  # its owner removed it meanwhile
        if not alive:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def temp_dir() -> Iterator[Path]:
    """A fresh folder for one check (the --user-data-dir, the inputs served), tracked by
    jax2tfjs.atomic: Ctrl-C and the memory guard remove it too, a SIGKILL leaves it for the next run."""
    remove_orphaned_profiles()
    path = Path(tempfile.mkdtemp(prefix=f"jax2tfjs-{PROFILE_KIND}-{os.getpid()}-"))
    with atomic.tracked(path):
        yield path


def launch(playwright: Any, profile: Path, executable: Path, flags: tuple[str, ...] = FLAGS) -> Any:
    """A persistent context (Playwright refuses --user-data-dir in launch()'s args) on `profile`."""
    try:
        return playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(executable), args=list(flags), headless=True
        )
    except Exception as err:  # Playwright's Error: the binary would not start or answer
        raise BrowserError(
            f"Chromium ({executable}) failed to start: {str(err).splitlines()[0][:300]}",
            fix=f"run `{executable} --headless --no-sandbox --dump-dom about:blank` to see why; {INSTALL_FIX}",
            path=executable,
        ) from None
