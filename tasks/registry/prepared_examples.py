"""The examples of prepared run data as files without pickle: a table of image
files, a large table's row file, or the split arrays in an `.npz`.

A run folder may be shared by many machines, so nothing in it is read with
pickle (loading a pickle runs code): image files become a Parquet table of
paths and the decode pass's statistics, arrays an `.npz` read with
`allow_pickle=False`, and strings (texts, digests) UTF-8 bytes with offsets,
which give back every Python string exactly (a NumPy unicode array would drop
trailing NUL characters).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import tensorflow as tf

from data_contracts.digests import row_digests
from tasks.errors import DataError, name_some
from tasks.readers.array_rows import ArrayRows
from tasks.readers.image_files import ImageFiles, ImageStats, decode_image
from tasks.readers.row_file import RowFile
from tasks.registry.run_data import DataChangedError

IMAGES_FILE = "images.parquet"
ARRAYS_FILE = "arrays.npz"
ROWS_FILE = "rows.bin"  # a large table's examples (`ArrayRows`), raw float32
ROWS_ARRAYS_FILE = "rows.npz"
SPLIT_KEYS = ("train", "val", "test")  # the suffixes of `Splits.x_*`
SAMPLED_FILES = 8  # decoded by a reader to check its folder is the chief's


def image_facts(parts: dict) -> dict:
    """What every file of the splits shares: the root, size, channels, resize."""
    files = next(parts[f"x_{key}"] for key in SPLIT_KEYS if len(parts[f"x_{key}"]))
    return {
        "root": str(Path(files.paths[0]).parent.parent),  # <root>/<label>/<file>
        "size": None if files.size is None else list(files.size),
        "channels": files.channels,
        "resize": files.resize,
    }


def write_images(folder: Path, parts: dict, facts: dict) -> None:
    """One row per file, split by split: its path under the root, its split,
    label index and the decode pass's statistics."""
    prefix = facts["root"].rstrip(os.sep) + os.sep
    frames = []
    for key in SPLIT_KEYS:
        files, y = parts[f"x_{key}"], parts[f"y_{key}"]
        stats = files.stats
        outside = [path for path in files.paths if not path.startswith(prefix)]
        if outside:
            raise ValueError(f"{outside[0]} is not under the folder {prefix}")
        frame = {
            "path": [path[len(prefix) :] for path in files.paths],
            "split": [key] * len(files),
            "label": np.asarray(y, dtype="int64"),
            "digest": list(stats.digests),
            "shape": list(stats.shapes),
            "minimum": stats.minimum,
            "maximum": stats.maximum,
            "mean": stats.mean,
        }
        for channel in range(facts["channels"]):
            frame[f"sum_{channel}"] = stats.sums[:, channel]
            frame[f"square_{channel}"] = stats.squares[:, channel]
        frames.append(pd.DataFrame(frame))
    pd.concat(frames, ignore_index=True).to_parquet(folder / IMAGES_FILE, index=False)


def read_images(folder: Path, facts: dict, root: Path | None) -> dict:
    """`write_images`'s table back as `x_*`/`y_*`/`digests_*` of each split.

    The files are `root` (default: the chief's folder) joined with each
    stored path; they carry the chief's statistics and no decoded pixels.
    Every file must exist, and a few, spread over the folder, are decoded
    and compared with the chief's digests: a cheap check that `root` holds
    the chief's images, not a decode pass.

    Raises:
        DataError: files of the chief's folder that do not exist here.
        DataChangedError: a sampled file whose pixels differ from the chief's.
    """
    table = pd.read_parquet(folder / IMAGES_FILE)
    root = Path(facts["root"]) if root is None else Path(root)
    paths = np.array([str(root / path) for path in table["path"]], dtype=object)
    _check_present(paths, root)
    channels = facts["channels"]
    size = None if facts["size"] is None else tuple(facts["size"])
    parts = {}
    for key in SPLIT_KEYS:
        where = np.flatnonzero(table["split"].to_numpy() == key)
        rows = table.iloc[where]

        def columns(name: str, rows=rows) -> np.ndarray:
            found = [rows[f"{name}_{c}"].to_numpy(np.float64) for c in range(channels)]
            return np.stack(found, axis=1).reshape(len(rows), channels)

        stats = ImageStats(
            shapes=rows["shape"].to_numpy(dtype=object),
            minimum=rows["minimum"].to_numpy(np.float64),
            maximum=rows["maximum"].to_numpy(np.float64),
            mean=rows["mean"].to_numpy(np.float64),
            digests=rows["digest"].to_numpy(dtype=object),
            sums=columns("sum"),
            squares=columns("square"),
        )
        parts[f"x_{key}"] = ImageFiles(
            paths[where], size, channels, resize=facts["resize"], stats=stats
        )
        parts[f"y_{key}"] = rows["label"].to_numpy(np.int64)
        parts[f"digests_{key}"] = stats.digests
    _check_sample(paths, table["digest"].to_numpy(dtype=object), facts)
    return parts


def write_rows(folder: Path, parts: dict) -> dict:
    """A large table's split examples (`ArrayRows` of one row file): the file,
    copied as `rows.bin`, and each split's positions and statistics.

    Returns:
        What the row file holds (`read_rows` needs it): shape and dtype.
    """
    store = next(parts[f"x_{key}"] for key in SPLIT_KEYS).store
    shutil.copyfile(store.path, folder / ROWS_FILE)
    arrays = {}
    for key in SPLIT_KEYS:
        x = parts[f"x_{key}"]
        arrays[f"y_{key}"] = parts[f"y_{key}"]
        arrays[f"digests_{key}"] = parts[f"digests_{key}"]
        for name in ("rows", "sums", "squares", "counts"):
            arrays[f"{name}_{key}"] = getattr(x, name)
    write_arrays(folder, arrays, ROWS_ARRAYS_FILE)
    return {"row_shape": list(store.row_shape), "dtype": str(store.dtype)}


def read_rows(folder: Path, facts: dict) -> dict:
    """`write_rows`' examples back, as `ArrayRows` over the copied file."""
    arrays = read_arrays(folder, ROWS_ARRAYS_FILE)
    path = folder / ROWS_FILE
    row_bytes = np.dtype(facts["dtype"]).itemsize * int(np.prod(facts["row_shape"]))
    store = RowFile(
        path, facts["row_shape"], facts["dtype"], path.stat().st_size // row_bytes
    )
    parts = {}
    for key in SPLIT_KEYS:
        parts[f"y_{key}"] = arrays[f"y_{key}"]
        parts[f"digests_{key}"] = arrays[f"digests_{key}"]
        parts[f"x_{key}"] = ArrayRows(
            store,
            *(arrays[f"{name}_{key}"] for name in ("rows", "digests")),
            *(arrays[f"{name}_{key}"] for name in ("sums", "squares", "counts")),
        )
    return parts


def write_arrays(folder: Path, parts: dict, file: str = ARRAYS_FILE) -> None:
    """The split arrays (inputs, labels, digests) in one `.npz`, no pickle."""
    arrays = {}
    for name, values in parts.items():
        values = np.asarray(values)
        if values.dtype == object:
            encoded, offsets = encode_strings(values, name)
            arrays[f"{name}.utf8"], arrays[f"{name}.offsets"] = encoded, offsets
        else:
            arrays[name] = values
    np.savez(folder / file, **arrays)


def read_arrays(folder: Path, file: str = ARRAYS_FILE) -> dict:
    """`write_arrays`' arrays back; strings as object arrays of `str`."""
    with np.load(folder / file, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    parts = {}
    for name, values in arrays.items():
        if name.endswith(".offsets"):
            continue
        if name.endswith(".utf8"):
            base = name.removesuffix(".utf8")
            parts[base] = decode_strings(values, arrays[f"{base}.offsets"])
        else:
            parts[name] = values
    return parts


def encode_strings(values: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Strings as their UTF-8 bytes end to end, and where each one ends.

    Raises:
        DataError: `values` holds something other than strings (ragged
            series, for one), which prepared run data cannot keep.
    """
    if values.ndim != 1 or not all(isinstance(value, str) for value in values):
        raise DataError(
            f"Prepared run data received {name} as an object array of "
            f"{values.ndim} dimensions that is not all strings; expected numeric "
            "arrays or one string per example. Run the workers without prepared "
            "data, or turn the examples into a numeric array first."
        )
    chunks = [value.encode("utf-8", "surrogatepass") for value in values]
    offsets = np.cumsum([0, *map(len, chunks)], dtype=np.int64)
    return np.frombuffer(b"".join(chunks), dtype=np.uint8), offsets


def decode_strings(encoded: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """`encode_strings`' strings back, as an object array of `str`."""
    data = encoded.tobytes()
    texts = [
        data[start:end].decode("utf-8", "surrogatepass")
        for start, end in zip(offsets[:-1], offsets[1:], strict=True)
    ]
    return np.array(texts + [None], dtype=object)[:-1]  # never a 2-D array


def _check_sample(paths: np.ndarray, digests: np.ndarray, facts: dict) -> None:
    """Decode `SAMPLED_FILES` files spread over `paths`; each must hash as the
    chief's did (the decode pass's digest of the same uint8 pixels)."""
    size = tuple(facts["size"]) if facts["resize"] else None
    count = min(len(paths), SAMPLED_FILES)
    for at in np.unique(np.linspace(0, len(paths) - 1, count).astype(int)):
        pixels = decode_image(tf.constant(paths[at]), facts["channels"], size)
        (found,) = row_digests(pixels.numpy().reshape(1, -1).astype(np.float64))
        if found != digests[at]:
            raise DataChangedError(
                f"This worker's image {paths[at]} differs from the chief's: "
                f"received pixels with digest {found}, expected the chief's "
                f"{digests[at]}; a trial trained here would see other images "
                "than the chief's. Give the worker the chief's image folder "
                "(data.source, with the same contents), or restart the chief "
                "and every worker on the new data with a new --run-id."
            )


def _check_present(paths: np.ndarray, root: Path) -> None:
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        raise DataError(
            f"{len(missing)} of the chief's {len(paths)} image files are missing "
            f"under {root} here: {name_some(missing, 3)}. Expected the chief's "
            "image folder at data.source on this machine too; mount or copy it "
            "there, with the same files."
        )
