"""A local Stripe-compatible sandbox (localstripe) for ``make run`` and the tests.

``python -m stripe_sandbox --port 8420 [--state-dir var/stripe-sandbox]`` serves
localstripe on 127.0.0.1 only (the stock command listens on every interface)
and keeps its state in the given folder instead of the shared
``/tmp/localstripe.pickle`` (no folder: state lives in memory only).
:class:`Sandbox` starts and stops it as a subprocess.
"""

from __future__ import annotations

import argparse
import os
import pickle
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "sk_test_centra_sandbox"
TEST_PUBLISHABLE_KEY = "pk_test_centra_sandbox"
TEST_WEBHOOK_SECRET = "whsec_centra_sandbox"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def serve(port: int, state_dir: Path | None, parent_pid: int | None = None) -> None:
    """Run localstripe's aiohttp app in this process until interrupted (or the parent is gone)."""
    import asyncio

    from aiohttp import web
    from localstripe import resources, server

    state_file = state_dir / "localstripe.pickle" if state_dir else None

    def load(store: resources.Store) -> None:
        if state_file and state_file.exists():
            store.clear()
            store.update(pickle.loads(state_file.read_bytes()))

    def dump(store: resources.Store) -> None:
        if state_file:
            tmp = state_file.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(dict(store), protocol=pickle.HIGHEST_PROTOCOL))
            tmp.replace(state_file)

    resources.Store.try_load_from_disk = load  # type: ignore[method-assign]
    resources.Store.dump_to_disk = dump  # type: ignore[method-assign]
    if state_dir:
        state_dir.mkdir(parents=True, exist_ok=True)
        resources.store.try_load_from_disk()
    if parent_pid:
        async def watch_parent(app: web.Application) -> None:
            async def loop() -> None:
                while os.getppid() == parent_pid:
                    await asyncio.sleep(1)
                os._exit(0)  # the parent died without stopping us: never linger as an orphan

            app["parent_watch"] = asyncio.ensure_future(loop())

        server.app.on_startup.append(watch_parent)
    web.run_app(server.app, host="127.0.0.1", port=port, print=None, access_log=None)


class Sandbox:
    """localstripe as a child process on 127.0.0.1."""

    def __init__(self, port: int | None = None, state_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.state_dir = state_dir
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def js_url(self) -> str:
        return f"{self.base_url}/js.stripe.com/v3/"

    def env(self) -> dict[str, str]:
        """The settings (environment) that point the application at this sandbox."""
        return {
            "STRIPE_API_BASE": self.base_url,
            "STRIPE_JS_URL": self.js_url,
            "STRIPE_SECRET_KEY": TEST_SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": TEST_PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": TEST_WEBHOOK_SECRET,
        }

    def start(self, timeout: float = 15.0) -> Sandbox:
        cmd = [sys.executable, "-m", "providers.stripe_sandbox", "--port", str(self.port),
               "--parent-pid", str(os.getpid())]
        if self.state_dir:
            cmd += ["--state-dir", str(self.state_dir)]
        self.process = subprocess.Popen(cmd, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Stripe sandbox exited with code {self.process.returncode}")
            try:
                if httpx.get(self.js_url, timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the Stripe sandbox did not answer on {self.base_url}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def register_webhook(self, url: str, secret: str = TEST_WEBHOOK_SECRET,
                         name: str = "centra") -> None:
        response = httpx.post(f"{self.base_url}/_config/webhooks/{name}",
                              data={"url": url, "secret": secret}, timeout=5.0)
        response.raise_for_status()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    from settings import get_settings

    parser.add_argument("--port", type=int, default=get_settings().stripe_sandbox_port)
    parser.add_argument("--state-dir", type=Path, default=None)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process is no longer the parent")
    args = parser.parse_args(argv)
    serve(args.port, args.state_dir, args.parent_pid)


if __name__ == "__main__":
    main()
