"""Image folders, index first: a directory walk and a header read, no decoding.

A training folder holds one subfolder per class (`<folder>/<label>/<file>`);
a folder to predict may also hold the images directly. Each file's header
gives its size and mode without decoding the pixels, which is enough to
decide the channels (grey only when every file is grey) and whether the
files share one size. The pixels are read later, in one streaming pass
(`tasks.readers.image_scan`) and by the datasets (`ImageFiles.batches`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tasks.errors import DataError
from tasks.readers.image_files import ImageFiles

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
GREY_MODES = {"L", "1", "I;16", "I"}
UNREADABLE = (
    UnidentifiedImageError,
    Image.DecompressionBombError,  # a header claiming a huge size
    OSError,
    SyntaxError,
    ValueError,
)


def index_image_folder(
    folder: Path, image_size: list[int] | None = None, labelled: bool = True
) -> tuple[ImageFiles, np.ndarray | None]:
    """The files under `folder/<class>/` and their labels (the class folders).

    Args:
        folder: the image folder.
        image_size: (height, width) every image is resized to; None keeps
            each file's size (files of different sizes are then reported by
            the contract's shape check).
        labelled: False also accepts images directly in `folder` (predicting):
            their label is None.

    Raises:
        DataError: no images where expected, or a file whose header is not a
            readable image (named, with the reason).
    """
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    files = [
        (path, class_dir.name)
        for class_dir in classes
        for path in sorted(class_dir.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    labels: np.ndarray | None = None
    if files:
        labels = np.array([label for _, label in files])
    elif not labelled:
        files = [
            (path, None)
            for path in sorted(folder.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
        ]
    if not files:
        where = f"{folder}/<label>/<image>" + ("" if labelled else f" or {folder}/")
        raise DataError(
            f"{folder} holds no images in class subfolders; expected {where} "
            f"files ending in {sorted(IMAGE_SUFFIXES)}."
        )
    headers = [_header(path) for path, _ in files]
    channels = 1 if all(mode in GREY_MODES for mode, _ in headers) else 3
    sizes = {size for _, size in headers}
    if image_size is not None:
        size, resize = (int(image_size[0]), int(image_size[1])), True
    else:
        size, resize = (next(iter(sizes)) if len(sizes) == 1 else None), False
    paths = np.array([str(path) for path, _ in files], dtype=object)
    return ImageFiles(paths, size, channels, resize=resize), labels


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    """The mode and (height, width) in `path`'s header; nothing is decoded."""
    try:
        with Image.open(path) as image:
            return image.mode, (image.height, image.width)
    except UNREADABLE as exc:
        raise DataError(
            f"{path} is not a readable image ({exc}). Replace or remove the file, "
            "then run again."
        ) from None
