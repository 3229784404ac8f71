import pytest

from data_contracts import (
    ContractError,
    DataContract,
    builtin_contract,
    compile_suite,
    default_contract,
    load_contract,
)

GOOD_YAML = """\
name: tiny
kind: image
labels: [cat, dog]
min_rows: 4
example_shape: [8, 8, 1]
min_value: 0
max_value: 1
"""


def test_load_contract_reads_yaml_and_records_the_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD_YAML)

    contract = load_contract(path)

    assert contract.labels == ["cat", "dog"]
    assert contract.example_shape == [8, 8, 1]
    assert contract.max_value == 1.0
    assert contract.label == "label"
    assert contract.source == str(path)


def test_load_contract_names_an_unknown_key(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD_YAML + "colour: blue\n")

    with pytest.raises(
        ContractError,
        match=r"tiny.yaml' is invalid: unknown key 'colour'.*Allowed keys: name, kind",
    ):
        load_contract(path)


def test_load_contract_locates_malformed_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: tiny\nlabels: [0, 1\nkind: image\n")

    with pytest.raises(
        ContractError,
        match=r"broken.yaml' is not valid YAML: .* at line \d+, column \d+",
    ):
        load_contract(path)


def test_load_contract_rejects_a_file_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- name\n- kind\n")

    with pytest.raises(ContractError, match="holds a list, expected a mapping"):
        load_contract(path)


def test_load_contract_explains_bad_values(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: tiny\nkind: audio\nmin_value: 5\nmax_value: 1\n")

    with pytest.raises(
        ContractError,
        match=r"'kind': Input should be 'image', 'sequence' or 'text' "
        r"\(received 'audio'\)",
    ):
        load_contract(path)
    path.write_text("name: tiny\nkind: image\nmin_value: 5\nmax_value: 1\n")
    with pytest.raises(
        ContractError, match=r"min_value \(5.0\) is greater than max_value"
    ):
        load_contract(path)


def test_load_contract_on_a_missing_file(tmp_path):
    with pytest.raises(ContractError, match="Cannot read contract file .*missing.yaml"):
        load_contract(tmp_path / "missing.yaml")


def test_builtin_contract_ships_digits_only():
    digits = builtin_contract("digits")

    assert digits is not None
    assert digits.example_shape == [8, 8, 1]
    assert digits.labels == list(range(10))
    assert builtin_contract("nope") is None
    assert builtin_contract("../data_contracts/digits") is None


def test_default_contract_asks_for_the_basics():
    contract = default_contract("mine", "sequence", label="y", example_shape=[12, 3])

    assert contract.label == "y"
    assert contract.min_classes == 2
    assert contract.min_rows == 1
    assert not contract.allow_nan
    assert contract.example_shape == [12, 3]
    assert contract.source == "default from pipeline config"
    assert contract.duplicates == "warn" and contract.max_duplicate_fraction == 0.0
    assert contract.labels_vs_champion == "fail"
    assert contract.max_abs_value == 1e18
    with pytest.raises(
        ContractError, match="The default contract for 'mine' is invalid: 'kind'"
    ):
        default_contract("mine", "video")


def test_contract_is_frozen_and_forbids_unknown_fields():
    contract = DataContract(name="x", kind="text")

    with pytest.raises(ValueError, match="frozen"):
        contract.name = "y"
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        DataContract(name="x", kind="text", colour="blue")


def test_compile_suite_checks_the_profile_columns(contract):
    suite = compile_suite(contract)

    checks = [
        (e.expectation_type, getattr(e, "column", None)) for e in suite.expectations
    ]
    assert checks == [
        ("expect_column_to_exist", "label"),
        ("expect_column_values_to_not_be_null", "label"),
        ("expect_column_values_to_be_in_set", "label"),
        ("expect_table_row_count_to_be_between", None),
        ("expect_column_unique_value_count_to_be_between", "label"),
        ("expect_column_values_to_be_between", "examples_in_class"),
        ("expect_column_values_to_be_in_set", "shape"),
        ("expect_column_values_to_be_between", "nan_count"),
        ("expect_column_values_to_be_between", "min"),
        ("expect_column_values_to_be_between", "max"),
        ("expect_column_values_to_be_between", "magnitude"),
    ]


def test_compile_suite_checks_texts_but_not_array_values():
    suite = compile_suite(default_contract("reviews", "text"))

    columns = {getattr(e, "column", None) for e in suite.expectations}
    # Missing and empty texts are checked, duplicates counted; shapes and
    # value ranges are not.
    assert columns == {"label", None, "nan_count", "length", "duplicate"}


def test_float32_and_champion_settings_read_from_yaml(tmp_path):
    path = tmp_path / "relaxed.yaml"
    path.write_text(GOOD_YAML + "labels_vs_champion: warn\nmax_abs_value: 1.0e+6\n")

    contract = load_contract(path)

    assert contract.labels_vs_champion == "warn" and contract.max_abs_value == 1e6
    path.write_text(GOOD_YAML + "labels_vs_champion: maybe\n")
    with pytest.raises(
        ContractError, match=r"'labels_vs_champion': Input should be 'fail', 'warn'"
    ):
        load_contract(path)
