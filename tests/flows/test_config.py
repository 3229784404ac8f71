from pathlib import Path

import pytest

from flows.config import PipelineConfig, demo_config, load_config, parse_config
from tasks.errors import ConfigError

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_example_config_matches_the_built_in_demo():
    assert load_config(EXAMPLES / "digits.yaml") == demo_config()


def test_config_is_frozen():
    config = demo_config()
    with pytest.raises(ValueError):
        config.name = "other"


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: d\nsearch:\n  max_trialz: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'search.max_trialz'"):
        load_config(path)


def test_wrong_type_says_what_was_received(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: d\nsearch:\n  epochs: many\n")
    with pytest.raises(ConfigError, match=r"'search.epochs'.*received 'many'"):
        load_config(path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.parametrize(
    "raw, match",
    [
        ({"name": "Bad Name"}, "'name'"),
        ({}, "missing required key 'name'"),
        ([1, 2], "expected a mapping"),
        (
            {"name": "d", "data": {"test_fraction": 0.5, "validation_fraction": 0.45}},
            "at least 10%",
        ),
        ({"name": "d", "data": {"image_shape": [8, 8]}}, "height, width, channels"),
        ({"name": "d", "search": {"tuner": "grid"}}, "'search.tuner'"),
    ],
)
def test_invalid_configs(raw, match):
    with pytest.raises(ConfigError, match=match):
        parse_config(raw)


def test_defaults_follow_the_design():
    config = PipelineConfig(name="x")
    assert config.data.source == "sklearn:digits"
    assert config.search.objective == "val_f1_macro"
    assert config.publish.metric == "f1_macro"
    assert config.output_dir == "automl-output"


def test_max_p_value_is_off_by_default_and_a_probability():
    assert PipelineConfig(name="x").publish.max_p_value is None
    config = parse_config({"name": "x", "publish": {"max_p_value": 0.05}})
    assert config.publish.max_p_value == 0.05
    for bad in (0, 1.5):
        with pytest.raises(ConfigError, match=r"'publish.max_p_value'"):
            parse_config({"name": "x", "publish": {"max_p_value": bad}})
