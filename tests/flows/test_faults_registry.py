"""Registry faults with real processes: SIGKILL mid-publish, a full disk, a
corrupted `champion.json`.

Every test starts from a copy of one registry in which a real `automl run`
published `tiny` v0001 (champion), then damages it the way a crash, a full
disk or a bad hand edit would, and checks what users see through the real
`automl` command in a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import model_builders  # noqa: F401  (registers the custom layers for loading)
from tasks.registry.versions import list_versions
from tests.helpers import (
    run_automl,
    save_tiny_npz,
    tiny_image_arrays,
    write_tiny_config,
)

pytestmark = pytest.mark.faults

RUN_TIMEOUT = 180


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, dict]:
    """A real `automl run` published tiny v0001; (work folder, env for the CLI).

    The folder holds `tiny.yaml`, `inputs.npz` (5 unlabelled images) and
    `base/registry/tiny/v0001`.
    """
    root = tmp_path_factory.mktemp("registry-faults")
    env = dict(os.environ, PREFECT_HOME=str(root / "prefect-home"))
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2")
    source = save_tiny_npz(root / "tiny.npz")
    np.savez(root / "inputs.npz", x=tiny_image_arrays()[0][:5])
    config = write_tiny_config(root / "tiny.yaml", source, root / "base")
    result = run_automl(env, "run", str(config), "--no-progress", timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert list_versions(root / "base/registry/tiny") == ["v0001"]
    return root, env


@pytest.fixture
def output(published, tmp_path) -> Path:
    """A copy of the output folder with v0001 (champion), for one test to damage."""
    root, _ = published
    shutil.copytree(root / "base/registry", tmp_path / "out/registry")
    return tmp_path / "out"


def _champion(output: Path) -> Path:
    return output / "registry/tiny/champion.json"


def _check_v0001_serves(published, output: Path) -> None:
    """v0001 loads safely, and `automl predict` of the champion uses it."""
    root, env = published
    pipeline = output / "registry/tiny"
    assert json.loads(_champion(output).read_text())["version"] == "v0001"
    model = keras.saving.load_model(pipeline / "v0001/model.keras", safe_mode=True)
    assert model.output_shape == (None, 3)
    out = output / "predictions.csv"
    predict = run_automl(
        env,
        "predict",
        "tiny",
        str(root / "inputs.npz"),
        "--out",
        str(out),
        "--output-dir",
        str(output),
    )
    assert predict.returncode == 0, predict.stderr[-2000:]
    assert "tiny v0001" in predict.stdout
    assert len(out.read_text().splitlines()) == 1 + 5


def _listed(env: dict, output: Path) -> str:
    listed = run_automl(env, "models", "list", "tiny", "--output-dir", str(output))
    assert listed.returncode == 0, listed.stderr[-2000:]
    return listed.stdout


def _wait_for(find, process: subprocess.Popen, log: Path, timeout=RUN_TIMEOUT):
    """Poll `find()` every 5 ms until it returns something; fail if `process`
    ends first."""
    deadline = time.monotonic() + timeout
    while (found := find()) is None:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.005)
    return found


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process, then what it started (its temporary Prefect server)."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def test_sigkill_during_publish_keeps_the_champion_and_the_next_run_cleans_up(
    published, output
):
    """`automl run` is SIGKILLed inside publish, at a well-defined point: once
    its staging folder (`.tmp-<pid>@<host>-*`) holds `model.keras`, i.e. after
    the model is written and before the folder is renamed to v0002. The
    folder lives about half a second, so the 5 ms poll always catches it."""
    root, env = published
    pipeline = output / "registry/tiny"
    champion = _champion(output).read_bytes()
    log = output / "killed.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli.main", "run", str(root / "tiny.yaml")]
            + ["--output-dir", str(output), "--no-progress"],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        staging = _wait_for(
            lambda: next(
                (p for p in pipeline.glob(".tmp-*") if (p / "model.keras").exists()),
                None,
            ),
            process,
            log,
        )
    finally:
        _kill_group(process)
    assert process.returncode == -signal.SIGKILL
    # The kill hit publish: its half-written folder is left, named by its pid.
    assert staging.is_dir() and staging.name.startswith(f".tmp-{process.pid}@")
    assert list_versions(pipeline) == ["v0001"]
    assert _champion(output).read_bytes() == champion
    listed = _listed(env, output)
    assert "* v0001" in listed and "champion: v0001" in listed
    assert "v0002" not in listed and ".tmp" not in listed
    _check_v0001_serves(published, output)

    # Leftovers of writers that still run, here or on another host, are kept.
    live = pipeline / f".tmp-{os.getpid()}@{socket.gethostname()}-{'a' * 32}"
    remote = pipeline / f".tmp-{process.pid}@another-host-{'b' * 32}"
    live.mkdir()
    remote.mkdir()
    rerun = run_automl(
        env,
        "run",
        str(root / "tiny.yaml"),
        "--output-dir",
        str(output),
        "--no-progress",
        timeout=RUN_TIMEOUT,
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "Published tiny v0002" in rerun.stdout
    assert list_versions(pipeline) == ["v0001", "v0002"]
    assert not staging.exists()
    assert sorted(p.name for p in pipeline.glob(".tmp-*")) == sorted(
        [live.name, remote.name]
    )
    keras.saving.load_model(pipeline / "v0002/model.keras", safe_mode=True)


CHAMPION_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    import keras

    from tasks.publish import publish_version

    registry, score, marker = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    rename = os.replace

    def stop_before_champion_rename(source, target):
        # Fault injection: wait to be killed between the temporary champion
        # file's write and its rename (a window too short to hit by polling).
        if marker != "-" and Path(target).name == "champion.json":
            Path(marker).write_text(str(source))
            time.sleep(600)
        return rename(source, target)

    os.replace = stop_before_champion_rename
    inputs = keras.Input((8, 8, 1))
    outputs = keras.layers.Dense(3, activation="softmax")(
        keras.layers.Flatten()(inputs)
    )
    metrics = {"f1_macro": score, "labels": [0, 1, 2]}
    model = keras.Model(inputs, outputs)
    result = publish_version(registry, "tiny", model, metrics, {})
    print(result.version, result.promoted)
    """
)


def test_sigkill_between_champion_write_and_rename_leaves_the_old_champion(
    published, output
):
    """A publisher that beats the champion is SIGKILLed after writing the
    temporary champion file and before renaming it over `champion.json`: it
    waits there (a wrapper around `os.replace` in that process), and the test
    kills it once it says so. v0002 is already in place, unpromoted."""
    _, env = published
    pipeline = output / "registry/tiny"
    # The tiny champion may score a perfect 1.0, which no challenger beats:
    # this copy records it lower, so the writer below is promoted.
    recorded = pipeline / "v0001/metrics.json"
    recorded.write_text(
        json.dumps({**json.loads(recorded.read_text()), "f1_macro": 0.5})
    )
    champion = _champion(output).read_bytes()
    marker = output / "stopped"
    process = subprocess.Popen(
        [sys.executable, "-c", CHAMPION_WRITER, str(output / "registry"), "1.0"]
        + [str(marker)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not marker.exists() or not marker.read_text():
            assert process.poll() is None, process.stdout.read()[-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        process.kill()
        process.wait(timeout=30)
    process.stdout.close()
    leftover = Path(marker.read_text())
    assert leftover.parent == pipeline and leftover.name.startswith(
        f".champion-{process.pid}@"
    )
    assert json.loads(leftover.read_text())["version"] == "v0002"
    assert _champion(output).read_bytes() == champion
    listed = _listed(env, output)
    assert "* v0001" in listed and "  v0002" in listed
    assert "champion: v0001" in listed
    _check_v0001_serves(published, output)

    # The next publish (not promoted) ignores the leftover, then removes it.
    after = subprocess.run(
        [sys.executable, "-c", CHAMPION_WRITER, str(output / "registry"), "0.0", "-"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert after.returncode == 0, after.stderr[-3000:]
    assert after.stdout.split()[-2:] == ["v0003", "False"]
    assert not leftover.exists()
    assert _champion(output).read_bytes() == champion


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


FULL_DISK = r"""
set -u
mount -t tmpfs -o size=4m tmpfs "$OUT/registry"
cp -a "$SAVED/." "$OUT/registry/"
dd if=/dev/zero of="$OUT/registry/filler" bs=64k 2>/dev/null
truncate -s -16K "$OUT/registry/filler"
df -k "$OUT/registry" | tail -1 > "$AFTER.df"
"$PYTHON" -m flows.cli.main run "$CONFIG" --output-dir "$OUT" --no-progress \
    > "$AFTER.out" 2> "$AFTER.err"
echo $? > "$AFTER.rc"
cp -a "$OUT/registry/tiny/." "$AFTER/"
"""


@pytest.mark.skipif(
    not _unshare_works(),
    reason="needs `unshare -rm` (user and mount namespaces) to mount a small tmpfs",
)
def test_a_full_disk_gives_a_clear_error_and_no_partial_version(published, output):
    """`automl run` publishes into a registry on a tmpfs with 16 KB free.

    In a private mount namespace (`unshare -rm`), a 4 MB tmpfs is mounted
    over OUTPUT/registry, the registry with v0001 is copied onto it and a
    filler file takes all but 16 KB; the run's other folders stay on disk.
    What the run left is copied back before the namespace goes away.
    """
    root, env = published
    saved = output.parent / "saved"
    shutil.move(output / "registry", saved)
    (output / "registry").mkdir()
    after = output.parent / "after"
    after.mkdir()
    champion = (saved / "tiny/champion.json").read_bytes()
    script = subprocess.run(
        ["unshare", "-rm", "sh", "-c", FULL_DISK],
        env=dict(
            env,
            OUT=str(output),
            SAVED=str(saved),
            AFTER=str(after),
            CONFIG=str(root / "tiny.yaml"),
            PYTHON=sys.executable,
        ),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert script.returncode == 0, script.stderr
    free_kb = int(Path(f"{after}.df").read_text().split()[3])
    assert free_kb <= 32
    stderr = Path(f"{after}.err").read_text()
    assert Path(f"{after}.rc").read_text().strip() == "1", stderr[-3000:]
    (message,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "No space left on device" in message and "ENOSPC" in message
    assert "expected room for a version folder" in message
    assert "Free space on that filesystem" in message
    assert "nothing was published and the champion is unchanged" in message
    assert list_versions(after) == ["v0001"]
    assert not list(after.glob(".tmp-*")) and not list(after.glob(".champion-*"))
    assert (after / "champion.json").read_bytes() == champion
    keras.saving.load_model(after / "v0001/model.keras", safe_mode=True)


def _truncated(text: str) -> str:
    return text[: len(text) // 2]  # a torn write


def _dangling(text: str) -> str:
    return text.replace('"v0001"', '"v0009"', 1)  # names no published version


@pytest.mark.parametrize(
    "corrupt, match",
    [(_truncated, "is unreadable"), (_dangling, "names v0009, which is not")],
    ids=["truncated", "dangling"],
)
def test_a_corrupted_champion_is_a_clear_error_in_every_command(
    published, output, corrupt, match
):
    """`champion.json` is damaged by hand; `models list`, `models show`,
    `predict` (champion resolution) and `run` all refuse with exit code 1 and
    one paragraph, and none of them rewrites the file."""
    root, env = published
    path = _champion(output)
    path.write_text(corrupt(path.read_text()))
    damaged = path.read_bytes()
    where = ["--output-dir", str(output)]
    commands = {
        "list": ["models", "list", "tiny", *where],
        "show": ["models", "show", "tiny", *where],
        "predict": ["predict", "tiny", str(root / "inputs.npz")]
        + ["--out", str(output / "p.csv"), *where],
        "run": ["run", str(root / "tiny.yaml"), "--no-progress", *where],
    }
    for command, args in commands.items():
        result = run_automl(env, *args, timeout=RUN_TIMEOUT)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        (message,) = [
            line for line in result.stderr.splitlines() if line.startswith("error:")
        ]
        assert str(path) in message and match in message, (command, message)
        assert "never reset automatically" in message, (command, message)
        assert 'history.jsonl says the champion was v0001: {"version": ' in message
        if command != "run":  # a failed flow run logs its traceback
            assert "Traceback" not in result.stderr, command
        assert path.read_bytes() == damaged, command
    assert list_versions(output / "registry/tiny") == ["v0001"]
    assert not (output / "p.csv").exists()
