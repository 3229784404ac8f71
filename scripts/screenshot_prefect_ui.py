"""Screenshot the Prefect UI after a real pipeline run, for the README.

Starts `prefect server start` on a free port with a throwaway PREFECT_HOME (a
fresh SQLite database), runs a tiny digits pipeline against it, then has
headless Chromium save PNGs of the finished flow run and its artifacts (in the
V2 UI, the one Prefect 3.8 opens by default). The server is stopped whatever
happens. Not part of `make test`: it needs Debian's `chromium` and starts a
server, trains and drives a browser (under a minute on two cores).

Usage:
    .venv/bin/python scripts/screenshot_prefect_ui.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
WINDOW_WIDTH = 1440

# Two short trials: enough for every artifact, quick enough for a docs chore.
TINY_CONFIG = """\
name: digits
data: {source: "sklearn:digits", kind: image, image_shape: [8, 8, 1]}
augment: {rotation: 0.03, zoom: 0.05, translation: 0.05}
search: {families: [cnn], tuner: random, max_trials: 2, epochs: 8,
         time_budget_minutes: 1}
seed: 0
"""

# Headless Chromium hangs or is refused on a closed network without these.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


class ScreenshotError(RuntimeError):
    """A step of the screenshot run failed; the message says which and why."""


def find_chromium(path: str | None) -> Path:
    """The Chromium binary: `path`, else /usr/bin/chromium or `chromium` on PATH.

    Args:
        path: a file, or a name looked up on PATH; None for the defaults.

    Raises:
        ScreenshotError: no Chromium binary was found.
    """
    if path:
        candidates = [path, shutil.which(path)]
    else:
        candidates = ["/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    looked_for = path or "/usr/bin/chromium and `chromium` on PATH"
    raise ScreenshotError(
        f"Received no Chromium binary (looked for {looked_for}); expected "
        "Debian's headless-capable chromium. "
        "Install it with `sudo apt-get install -y chromium`, or pass "
        "--chromium /path/to/chromium."
    )


def check_venv() -> None:
    """Make sure `prefect` and `automl` sit beside this Python.

    Raises:
        ScreenshotError: the script runs outside the project's virtualenv.
    """
    missing = [name for name in ("prefect", "automl") if not (BIN / name).is_file()]
    if missing:
        raise ScreenshotError(
            f"Received a Python without {' and '.join(missing)} beside it "
            f"({sys.executable}); expected the project's virtualenv. Run "
            "`make screenshots` or `.venv/bin/python scripts/screenshot_prefect_ui.py`."
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prefect_env(prefect_home: Path, **settings: str) -> dict[str, str]:
    """This environment with a throwaway PREFECT_HOME, no outside server, `settings`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PREFECT_API_URL", "PREFECT_UI_API_URL", "PREFECT_PROFILE")
    }
    env.update(
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        **settings,
    )
    return env


def server_env(prefect_home: Path, api_url: str) -> dict[str, str]:
    """The server's environment: its UI must call this server's API.

    `prefect server start --port N` does not reach the UI's settings: without
    PREFECT_UI_API_URL the UI calls http://127.0.0.1:4200/api, the default port.
    """
    return prefect_env(
        prefect_home,
        PREFECT_UI_API_URL=api_url,
        PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT="false",
    )


def wait_for_health(api_url: str, server: subprocess.Popen, timeout: float) -> None:
    """Poll `/api/health` until the server answers.

    Raises:
        ScreenshotError: the server exited or did not answer within `timeout`.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ScreenshotError(
                f"`prefect server start` exited with code {server.returncode} "
                "before answering /api/health; see its output above."
            )
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise ScreenshotError(
        f"Received no answer from {api_url}/health within {timeout:.0f}s; "
        "expected the Prefect server to start. Run `prefect server start` by hand "
        "to see why."
    )


def check_ui_api_url(base_url: str) -> None:
    """Make sure the UI calls this server's API, not another one's.

    Raises:
        ScreenshotError: the UI settings name another API URL.
    """
    with urllib.request.urlopen(f"{base_url}/ui-settings", timeout=10) as response:
        ui_api_url = json.load(response)["api_url"]
    if ui_api_url != f"{base_url}/api":
        raise ScreenshotError(
            f"Received a UI that calls the API at {ui_api_url}; expected "
            f"{base_url}/api, so the screenshots show this run. Check how "
            "PREFECT_UI_API_URL reaches `prefect server start`."
        )


def post_json(url: str, body: dict) -> list[dict]:
    """POST `body` as JSON and decode the JSON answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def finished_flow_run(api_url: str) -> dict:
    """The most recent completed run of the `automl` flow on the server.

    Raises:
        ScreenshotError: the server holds no completed run of it.
    """
    runs = post_json(
        f"{api_url}/flow_runs/filter",
        {
            "flows": {"name": {"any_": ["automl"]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
            "sort": "START_TIME_DESC",
            "limit": 1,
        },
    )
    if not runs:
        raise ScreenshotError(
            "Received no completed flow run from the server; expected the "
            "pipeline run to have finished. Check the `automl run` output above."
        )
    return runs[0]


def run_artifacts(api_url: str, flow_run_id: str) -> dict[str, dict]:
    """The flow run's artifacts by key (keyed ones only, latest first)."""
    artifacts = post_json(
        f"{api_url}/artifacts/filter",
        {
            "artifacts": {"flow_run_id": {"any_": [flow_run_id]}},
            "sort": "CREATED_DESC",
        },
    )
    by_key: dict[str, dict] = {}
    for artifact in artifacts:
        if artifact.get("key"):
            by_key.setdefault(artifact["key"], artifact)
    return by_key


def take_screenshot(
    chromium: Path, url: str, png: Path, height: int, budget_ms: int, profile: Path
) -> None:
    """Load `url` in headless Chromium and save the window as a small `png`.

    Raises:
        ScreenshotError: Chromium failed or wrote no file.
    """
    png.unlink(missing_ok=True)
    command = [
        str(chromium),
        *CHROMIUM_FLAGS,
        f"--window-size={WINDOW_WIDTH},{height}",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={png}",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if result.returncode != 0 or not png.is_file():
        raise ScreenshotError(
            f"Chromium exited with code {result.returncode} and wrote no {png} "
            f"for {url}; its output:\n{result.stderr[-2000:]}"
        )
    shrink_png(png)
    print(f"  {png} ({png.stat().st_size // 1024} KB)  <- {url}")


def shrink_png(png: Path) -> None:
    """Re-save `png` with a 256-colour palette, for files committed to git.

    UI screenshots are flat colours and text: they lose nothing visible and
    shrink about threefold.
    """
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256)
    small.save(png, optimize=True)


def screenshot_pages(base_url: str) -> dict[str, tuple[str, int]]:
    """The PNG names, the V2 UI pages they show and their window heights."""
    api_url = f"{base_url}/api"
    ui_url = f"{base_url}/v2"
    flow_run = finished_flow_run(api_url)
    flow_run_url = f"{ui_url}/runs/flow-run/{flow_run['id']}"
    pages = {
        "prefect-flow-run.png": (flow_run_url, 1000),
        "prefect-artifacts.png": (f"{flow_run_url}?tab=Artifacts", 1400),
    }
    heights = {"model-card": 2000, "metrics": 1000}
    artifacts = run_artifacts(api_url, flow_run["id"])
    for what, height in heights.items():
        artifact = artifacts.get(f"digits-{what}")
        if artifact is None:
            raise ScreenshotError(
                f"Received artifacts {sorted(artifacts)} for flow run "
                f"{flow_run['id']}; expected one keyed digits-{what}. Check "
                "flows/artifacts.py."
            )
        artifact_url = f"{ui_url}/artifacts/artifact/{artifact['id']}"
        pages[f"prefect-{what}.png"] = (artifact_url, height)
    return pages


def make_screenshots(chromium: Path, out: Path, budget_ms: int) -> None:
    """Serve Prefect, run the tiny pipeline, screenshot the UI, stop the server."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="automl-screenshots-") as tmp:
        tmp_dir = Path(tmp)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        print(f"Starting the Prefect server at {base_url} (PREFECT_HOME={tmp_dir})")
        server = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start"]
            + ["--host", "127.0.0.1", "--port", str(port)],
            env=server_env(tmp_dir / "prefect-home", f"{base_url}/api"),
            cwd=tmp_dir,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for_health(f"{base_url}/api", server, timeout=180)
            check_ui_api_url(base_url)
            config = tmp_dir / "digits-tiny.yaml"
            config.write_text(TINY_CONFIG)
            print("Running the tiny digits pipeline against it")
            pipeline = [str(BIN / "automl"), "run", str(config), "--no-progress"]
            subprocess.run(
                pipeline + ["--output-dir", str(tmp_dir / "output")],
                env=prefect_env(
                    tmp_dir / "prefect-home", PREFECT_API_URL=f"{base_url}/api"
                ),
                cwd=REPO,
                check=True,
            )
            print(f"Screenshots into {out}")
            for name, (url, height) in screenshot_pages(base_url).items():
                profile = tmp_dir / f"chromium-{name}"
                take_screenshot(chromium, url, out / name, height, budget_ms, profile)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--chromium", help="Chromium binary; default /usr/bin/chromium or on PATH"
    )
    parser.add_argument(
        "--out", type=Path, default=REPO / "docs" / "screenshots", help="PNG folder"
    )
    parser.add_argument(
        "--virtual-time-budget",
        type=int,
        default=15000,
        help="milliseconds of page time Chromium waits before each screenshot",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        chromium = find_chromium(args.chromium)
        check_venv()
        make_screenshots(chromium, args.out, args.virtual_time_budget)
    except ScreenshotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        command = " ".join(map(str, error.cmd))
        print(f"error: `{command}` exited with {error.returncode}", file=sys.stderr)
        return 1
    print(f"Done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
