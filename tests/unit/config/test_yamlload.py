import pytest

from napcompose.config import yamlload
from napcompose.config.yamlload import line_of, load_text
from napcompose.errors import ConfigError


def test_keys_and_items_keep_their_lines():
    doc = load_text("a: 1\nb:\n  - x\n  - y\n", "f.yml")
    assert doc.lines == {"a": 1, "b": 2}
    assert line_of(doc["b"], 1) == 4


def test_duplicate_keys_are_refused_with_both_lines():
    with pytest.raises(ConfigError) as info:
        load_text("services:\n  web: {}\n  db: {}\n  web: {}\n", "f.yml")
    assert str(info.value) == "f.yml:4: duplicate key 'web' (first defined on line 2)"


def test_merge_keys_may_be_overridden_without_a_duplicate_error():
    doc = load_text("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  x: 3\n", "f.yml")
    assert doc["b"] == {"x": 3, "y": 2}


def test_python_tags_are_refused():
    with pytest.raises(ConfigError) as info:
        load_text("a: !!python/object/apply:os.getcwd []\n", "f.yml")
    assert str(info.value) == ("f.yml:1:4: could not determine a constructor for the tag "
                               "'tag:yaml.org,2002:python/object/apply:os.getcwd'")


def test_syntax_errors_name_line_and_column():
    with pytest.raises(ConfigError) as info:
        load_text("a: [1,\n", "f.yml")
    assert str(info.value).startswith("f.yml:2:1: ")


def test_alias_expansion_is_bounded():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(ConfigError) as info:
        load_text("\n".join(lines) + "\n", "laughs.yml")
    assert str(info.value) == ("laughs.yml: the document expands to more than 2000000 nodes through aliases; "
                               "refusing to load it")


def test_modest_alias_use_is_fine():
    doc = load_text("a: &a [1, 2]\nb: [*a, *a]\n", "f.yml")
    assert doc["b"] == [[1, 2], [1, 2]]


def test_file_size_is_bounded(monkeypatch):
    monkeypatch.setattr(yamlload, "MAX_FILE_BYTES", 10)
    with pytest.raises(ConfigError) as info:
        load_text("a: 1234567890\n", "big.yml")
    assert str(info.value) == "big.yml: the file is larger than 10 bytes"


def test_read_file_bounds_size(tmp_path, monkeypatch):
    path = tmp_path / "big.yml"
    path.write_text("a: " + "x" * 100)
    monkeypatch.setattr(yamlload, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    assert yamlload.read_file(str(path)).startswith("a: x")
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(ConfigError) as info:
        yamlload.read_file(str(path), "big.yml")
    assert str(info.value) == "big.yml: not UTF-8 text (byte 3)"


def test_non_scalar_keys_are_refused():
    with pytest.raises(ConfigError) as info:
        load_text("? [a, b]\n: 1\n", "f.yml")
    assert str(info.value) == "f.yml:1: a mapping key must be a scalar"


def test_escapes_the_fast_parser_refuses_are_read_by_the_pure_one():
    assert load_text('a: "\\ud83d\\ude00"\n', "f.yml") == {"a": "\ud83d\ude00"}  # as PyYAML reads it


@pytest.mark.parametrize("text,line", [("a: &x [*x]\n", 1), ("a: 1\nb: &x\n  c: [1, {d: *x}]\n", 3)])
def test_an_alias_inside_its_own_anchor_is_refused(text, line):
    # PyYAML would build a list that contains itself; every later walk over it would never end.
    with pytest.raises(ConfigError) as info:
        load_text(text, "f.yml")
    assert str(info.value) == (f"f.yml:{line}: an alias here refers to a node that contains it; a recursive "
                               "structure cannot be loaded")


def test_an_alias_used_twice_side_by_side_is_not_recursive():
    assert load_text("a: &x [1]\nb: [*x, *x]\n", "f.yml")["b"] == [[1], [1]]


def test_a_merged_mapping_with_a_non_scalar_key_is_refused():
    with pytest.raises(ConfigError) as info:
        load_text("a: 1\nb: {<<: {[1]: 2}}\n", "f.yml")
    assert str(info.value) == "f.yml:2: a mapping key must be a scalar"


@pytest.mark.parametrize("text,message", [
    ("a: 2001-13-45\n", "f.yml:1:4: cannot read the value '2001-13-45': month must be in 1..12"),
    ("a: [!!int x]\n", "f.yml:1:5: cannot read the value 'x': invalid literal for int() with base 10: 'x'"),
    ("a: " + "1" * 5000 + "\n", "f.yml:1:4: cannot read the value '111111111111111111111111111111111111...: it "
                                "has too many digits"),
    ("a: 0x" + "f" * 5000 + "\n", "f.yml:1:4: cannot read the value '0xffffffffffffffffffffffffffffffffff...: "
                                  "more than 4096 bits"),
])
def test_scalars_that_cannot_be_built_are_errors_at_their_line(text, message):
    # These used to escape as ValueError (a traceback) instead of a ConfigError.
    with pytest.raises(ConfigError) as info:
        load_text(text, "f.yml")
    assert str(info.value) == message
