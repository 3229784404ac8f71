"""Image folders: one subfolder per class, PNG/JPEG/BMP/GIF files inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tasks.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def read_image_folder(
    folder: Path, image_size: list[int] | None = None
) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
    """Read every image under `folder/<class>/` as float32 pixels (0-255).

    Grey images keep one channel unless any image has colour, in which case
    all become RGB. With `image_size` (height, width), images are resized;
    without it, images of different sizes come back as a list, so the
    contract's shape check reports them instead of a crash here.

    Raises:
        DataError: no class folders or images, or a file that is not a
            readable image (named, with the reason).
    """
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    files = [
        (path, class_dir.name)
        for class_dir in classes
        for path in sorted(class_dir.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise DataError(
            f"{folder} holds no images in class subfolders; expected "
            f"{folder}/<label>/<image> files ending in {sorted(IMAGE_SUFFIXES)}."
        )
    images = [_open(path) for path, _ in files]
    mode = (
        "L" if all(image.mode in ("L", "1", "I;16", "I") for image in images) else "RGB"
    )
    arrays = []
    for image in images:
        image = image.convert(mode)
        if image_size is not None:
            height, width = image_size
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype="float32")
        arrays.append(pixels[..., np.newaxis] if mode == "L" else pixels)
    labels = np.array([label for _, label in files])
    shapes = {a.shape for a in arrays}
    return (np.stack(arrays) if len(shapes) == 1 else arrays), labels


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,  # a header claiming a huge size
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise DataError(
            f"{path} is not a readable image ({exc}). Replace or remove the file, "
            "then run again."
        ) from None
