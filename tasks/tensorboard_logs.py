"""TensorBoard logs of the final model: confusion matrix, per-class metrics, a table.

The trials' scalars and HParams are written by Keras Tuner during the search
(one folder per trial); this stage adds the `final/` run beside them, from the
test-split metrics of `tasks.evaluate`, so TensorBoard shows what the
published model gets right and wrong per class.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tasks.stage import stage

HEADLINE = ("accuracy", "f1_macro", "precision_macro", "recall_macro", "f1_weighted")
PER_CLASS = ("precision", "recall", "f1")
_BLUE = np.array([8, 48, 107])
_WHITE = np.array([255, 255, 255])


def write_final_logs(log_dir: str | Path, metrics: Mapping) -> Path:
    """Write the final model's test metrics as one TensorBoard run.

    The run holds a confusion-matrix image (`confusion_matrix`), scalars for
    the headline metrics (`test/accuracy`, `test/f1_macro`, ...) and for each
    class (`per_class/<label>/precision|recall|f1`), and a markdown summary
    (`summary`) with the per-class table. All at step 0.

    Args:
        log_dir: the run's folder, `<run_dir>/tensorboard/final`.
        metrics: the `metrics.json` keys (`tasks.evaluate.Metrics.to_dict()`);
            labels are the original class labels.

    Returns:
        The log folder.

    Raises:
        ValueError: the confusion matrix is not square over the labels.
    """
    import tensorflow as tf

    labels = [str(label) for label in metrics["labels"]]
    matrix = np.asarray(metrics["confusion_matrix"], dtype=np.int64)
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(
            f"metrics['confusion_matrix'] received shape {matrix.shape}; expected "
            f"({len(labels)}, {len(labels)}), one row and column per label. Pass "
            "the metrics of tasks.evaluate.evaluate_predictions unchanged."
        )
    log_dir = Path(log_dir)
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        image = render_confusion_matrix(matrix, labels)
        tf.summary.image(
            "confusion_matrix",
            image[None],
            step=0,
            description="Test split: rows are true labels, columns predicted; "
            "shade is the share of the true label's examples.",
        )
        for key in HEADLINE:
            if key in metrics:
                tf.summary.scalar(f"test/{key}", float(metrics[key]), step=0)
        for label, scores in metrics["per_class"].items():
            tag = str(label).replace("/", "_")
            for key in PER_CLASS:
                tf.summary.scalar(f"per_class/{tag}/{key}", float(scores[key]), step=0)
        tf.summary.text("summary", metrics_markdown(metrics), step=0)
    writer.close()
    return log_dir


def metrics_markdown(metrics: Mapping) -> str:
    """The headline metrics and the per-class table, as markdown."""
    headline = ", ".join(
        f"{key} {float(metrics[key]):.4f}" for key in HEADLINE if key in metrics
    )
    lines = [
        f"**Test split** (n={metrics.get('n_test', '?')}): {headline}",
        "",
        "| label | precision | recall | f1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, scores in metrics["per_class"].items():
        lines.append(
            f"| {_escape(label)} | {scores['precision']:.4f} | "
            f"{scores['recall']:.4f} | {scores['f1']:.4f} | "
            f"{int(scores['support'])} |"
        )
    return "\n".join(lines)


def render_confusion_matrix(matrix: np.ndarray, labels: list[str]) -> np.ndarray:
    """Draw a confusion matrix as an RGB image: counts, shaded by row share.

    Args:
        matrix: counts, rows true labels, columns predicted labels.
        labels: the label of each row and column.

    Returns:
        A `(height, width, 3)` uint8 array.
    """
    matrix = np.asarray(matrix)
    num_classes = len(labels)
    cell = int(np.clip(720 // max(num_classes, 1), 18, 56))
    font = ImageFont.load_default(size=max(9, cell // 3))
    label_width = max(_text_size(font, label)[0] for label in labels) + 12
    axis_width = _text_size(font, "true")[1] + 12
    left = axis_width + label_width
    top = axis_width + label_width
    side = cell * num_classes
    image = Image.new("RGB", (left + side + 8, top + side + 8), "white")
    draw = ImageDraw.Draw(image)

    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    for row in range(num_classes):
        for column in range(num_classes):
            x, y = left + column * cell, top + row * cell
            share = float(shares[row, column])
            colour = tuple(int(c) for c in _WHITE + (_BLUE - _WHITE) * share)
            draw.rectangle([x, y, x + cell, y + cell], fill=colour, outline="grey")
            text = str(int(matrix[row, column]))
            width, height = _text_size(font, text)
            draw.text(
                (x + (cell - width) / 2, y + (cell - height) / 2),
                text,
                fill="white" if share > 0.5 else "black",
                font=font,
            )
    for index, label in enumerate(labels):
        width, height = _text_size(font, label)
        middle = index * cell + (cell - height) / 2
        draw.text((left - width - 6, top + middle), label, fill="black", font=font)
        image.paste(_rotated_text(font, label), (int(left + middle), top - width - 6))
    true_axis = _rotated_text(font, "true")
    image.paste(true_axis, (4, int(top + (side - true_axis.height) / 2)))
    predicted_width = _text_size(font, "predicted")[0]
    draw.text(
        (left + (side - predicted_width) / 2, 4), "predicted", fill="black", font=font
    )
    return np.asarray(image, dtype=np.uint8)


def _text_size(font: ImageFont.ImageFont, text: str) -> tuple[int, int]:
    left, top, right, bottom = font.getbbox(text)
    return int(right - left), int(bottom - top)


def _rotated_text(font: ImageFont.ImageFont, text: str) -> Image.Image:
    """`text` written bottom to top, for the column labels."""
    width, height = _text_size(font, text)
    left, top, _, _ = font.getbbox(text)
    strip = Image.new("RGB", (width + 2, height + 2), "white")
    ImageDraw.Draw(strip).text((-left, -top), text, fill="black", font=font)
    return strip.rotate(90, expand=True)


def _escape(label: object) -> str:
    return str(label).replace("|", "\\|")


write_final_logs_task = stage("tensorboard-final")(write_final_logs)
