"""Library workarounds: each one warns, never stays silent, when its internal
is missing (found by real lookups pointed at names that do not exist)."""

import logging

import keras_tuner as kt

from tasks.tuning import compat

WARNING = logging.WARNING


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == WARNING]


def test_a_missing_internal_is_a_warning(caplog):
    with caplog.at_level(WARNING, logger="tasks.tuning.compat"):
        found = compat.find_internal(
            "keras_tuner.src.engine.tuner_utils", "NoSuchThing", "X stops working"
        )
    assert found is None
    assert any(
        "NoSuchThing is missing" in m and "X stops working" in m
        for m in _warnings(caplog)
    )


def test_a_missing_gradient_registry_warns_about_the_leak(caplog):
    with caplog.at_level(WARNING, logger="tasks.tuning.compat"):
        released = compat.release_custom_gradients(
            frozenset(), attribute="_no_such_registry"
        )
        names = compat.custom_gradients(attribute="_no_such_registry")
    assert released == 0 and names == frozenset()
    messages = _warnings(caplog)
    assert len(messages) == 2
    assert all("16 MB a trial" in m and "#97697" in m for m in messages)


def test_the_gradient_registry_is_found_in_the_installed_tensorflow(caplog):
    with caplog.at_level(WARNING, logger="tasks.tuning.compat"):
        registry = compat.gradient_registry()
        before = compat.custom_gradients()
        assert compat.release_custom_gradients(before) == 0
    assert isinstance(registry, dict)
    assert not [m for m in _warnings(caplog) if "gradient registry" in m]


def test_another_version_than_the_tested_one_is_a_warning(caplog):
    with caplog.at_level(WARNING, logger="tasks.tuning.compat"):
        assert not compat.check_version("keras_tuner", "0.0.1-test", "1.4.8")
        assert compat.check_version("keras_tuner", "1.4.8", "1.4.8")
    assert [m for m in _warnings(caplog) if "0.0.1-test" in m]


def test_the_condition_print_is_silenced_once_and_for_good(capsys):
    assert compat.silence_parent_condition_print()
    assert compat.silence_parent_condition_print()  # idempotent
    hp = kt.HyperParameters()
    hp.Choice("family", ["cnn", "lstm"])
    with hp.conditional_scope("family", ["cnn"]):
        hp.Int("cnn/blocks", 1, 3)
    proto = hp.to_proto()
    assert capsys.readouterr().out == ""
    assert "cnn" in str(proto)


def test_the_checkpoint_path_of_a_tuner_without_one_is_a_warning(caplog):
    with caplog.at_level(WARNING, logger="tasks.tuning.compat"):
        assert compat.checkpoint_path(object(), "0") is None
    assert [m for m in _warnings(caplog) if "_get_checkpoint_fname" in m]
