from pathlib import Path

import pytest
import yaml

from flows.config import PipelineConfig, demo_config, load_config, parse_config
from tasks.errors import ConfigError

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_example_config_reads_the_demo_data():
    assert load_config(EXAMPLES / "digits.yaml").data == demo_config().data


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_set_only_the_data_and_the_budget(path):
    """Everything else is a default that adapts to the data (issue: zero-config)."""
    raw = yaml.safe_load(path.read_text())
    assert set(raw) == {"name", "data", "search"}
    assert set(raw["search"]) == {"time_budget_minutes"}
    config = load_config(path)
    assert config.search.epochs is None and config.search.max_trials is None


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
    # Unset search settings are resolved from the data (tasks/tuning/plan.py).
    assert config.search.objective is None and config.search.epochs is None
    assert config.search.validation == "auto" and config.search.refit == "auto"
    assert config.publish.metric == "f1_macro"
    assert config.output_dir == "automl-output"


def test_max_p_value_is_off_by_default_and_a_probability():
    assert PipelineConfig(name="x").publish.max_p_value is None
    config = parse_config({"name": "x", "publish": {"max_p_value": 0.05}})
    assert config.publish.max_p_value == 0.05
    for bad in (0, 1.5):
        with pytest.raises(ConfigError, match=r"'publish.max_p_value'"):
            parse_config({"name": "x", "publish": {"max_p_value": bad}})
