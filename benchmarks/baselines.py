"""The published classical baselines the quality table holds the flow against.

Each is the plain, untuned anchor the literature reports for its kind of data,
trained here on exactly the examples the flow trained and validated on:

- sequences: 1-nearest-neighbour with Euclidean distance on the raw series,
  the UCR/UEA archives' reference classifier (Dau et al., "The UCR Time
  Series Archive", 2019, report it for every dataset);
- text: TF-IDF features with logistic regression, the standard linear text
  classifier (scikit-learn's defaults; the usual anchor for SMS spam);
- images: an RBF-kernel support vector machine on pixels scaled to [0, 1],
  scikit-learn's reference classifier for the 8x8 digits.

Each function takes training inputs and labels and returns predicted labels
for the test inputs, in the labels' own type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC


def one_nn_euclidean(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray
) -> np.ndarray:
    """1-NN with Euclidean distance on the raw series: the UCR archive's anchor.

    Series are flattened over steps and channels as they are (no
    normalisation beyond what the archive did); NaN padding counts as 0.

    Args:
        x_train: training series, `(N, T)` or `(N, T, F)`.
        y_train: one label per training series.
        x_test: series to classify, shaped like `x_train`.

    Returns:
        The predicted label of each test series.
    """
    classifier = KNeighborsClassifier(n_neighbors=1)
    classifier.fit(_flat_series(x_train), np.asarray(y_train))
    return classifier.predict(_flat_series(x_test))


def tfidf_logistic(
    texts_train: np.ndarray, y_train: np.ndarray, texts_test: np.ndarray
) -> np.ndarray:
    """TF-IDF (scikit-learn defaults) + logistic regression: the text anchor.

    Args:
        texts_train: training texts (any array-like; each item becomes `str`).
        y_train: one label per training text.
        texts_test: texts to classify.

    Returns:
        The predicted label of each test text.
    """
    vectorizer = TfidfVectorizer()
    features = vectorizer.fit_transform(_texts(texts_train))
    classifier = LogisticRegression(max_iter=1000)
    classifier.fit(features, np.asarray(y_train))
    return classifier.predict(vectorizer.transform(_texts(texts_test)))


def rbf_svm(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """An RBF-kernel SVM (scikit-learn defaults) on pixels: the image anchor.

    Pixels are flattened and divided by the training set's largest pixel, so
    they lie in [0, 1] as in scikit-learn's digits example.

    Args:
        x_train: training images, `(N, H, W)` or `(N, H, W, C)`.
        y_train: one label per training image.
        x_test: images to classify, shaped like `x_train`.

    Returns:
        The predicted label of each test image.
    """
    train = np.asarray(x_train, dtype="float64").reshape(len(x_train), -1)
    test = np.asarray(x_test, dtype="float64").reshape(len(x_test), -1)
    scale = float(train.max()) or 1.0
    classifier = SVC(kernel="rbf")
    classifier.fit(train / scale, np.asarray(y_train))
    return classifier.predict(test / scale)


@dataclass(frozen=True)
class Baseline:
    """A named baseline: `predict(x_train, y_train, x_test) -> predictions`."""

    name: str
    predict: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


BASELINES = {
    "sequence": Baseline("1-NN Euclidean", one_nn_euclidean),
    "text": Baseline("TF-IDF + logistic regression", tfidf_logistic),
    "image": Baseline("RBF SVM", rbf_svm),
}


def baseline_for(kind: str) -> Baseline:
    """The published baseline for a data kind (`image`, `sequence` or `text`).

    Raises:
        ValueError: an unknown kind.
    """
    if kind not in BASELINES:
        raise ValueError(
            f"Received the data kind {kind!r}; expected one of {sorted(BASELINES)}. "
            "Pass the config's data.kind."
        )
    return BASELINES[kind]


def _flat_series(x: np.ndarray) -> np.ndarray:
    flat = np.asarray(x, dtype="float64").reshape(len(x), -1)
    return np.where(np.isnan(flat), 0.0, flat)


def _texts(texts: np.ndarray) -> np.ndarray:
    return np.asarray(texts, dtype=object).astype(str)
