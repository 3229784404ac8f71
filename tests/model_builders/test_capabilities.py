"""Each family declares its own capabilities in its module, read generically."""

import inspect

import pytest

import model_builders
from model_builders import BUILDERS, Capabilities, capabilities


@pytest.mark.parametrize("family", sorted(BUILDERS))
def test_every_family_declares_its_capabilities_in_its_module(family):
    module = inspect.getmodule(BUILDERS[family])
    assert isinstance(module.CAPABILITIES, Capabilities)
    assert capabilities(family) is module.CAPABILITIES


def test_xla_is_off_for_the_lstm_ngram_and_rocket_only():
    assert {f: capabilities(f).xla for f in BUILDERS} == {
        "cnn": True,
        "lstm": False,
        "ngram": False,
        "rocket": False,
        "transformer": True,
    }


def test_a_family_that_declares_nothing_gets_the_defaults(monkeypatch):
    def build(hp, input_spec, num_classes):  # this test module has no CAPABILITIES
        raise NotImplementedError

    monkeypatch.setitem(model_builders.BUILDERS, "plain", build)
    assert capabilities("plain") == Capabilities(xla=False)
    assert not capabilities("plain").raw_text
    assert capabilities("plain").kinds == ("image", "sequence", "text")


def test_only_ngram_reads_raw_text_and_only_ngram_and_rocket_limit_kinds():
    assert {f for f in BUILDERS if capabilities(f).raw_text} == {"ngram"}
    every_kind = Capabilities().kinds
    limited = {f for f in BUILDERS if capabilities(f).kinds != every_kind}
    assert limited == {"ngram", "rocket"}
    assert capabilities("ngram").kinds == ("text",)
    assert capabilities("rocket").kinds == ("sequence",)
