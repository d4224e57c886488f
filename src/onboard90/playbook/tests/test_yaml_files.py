"""Reading a playbook file: YAML mistakes are reported with the file, line and column, never a traceback."""

from __future__ import annotations

import pytest

from onboard90.playbook import services


def test_the_shipped_default_file_reads_as_a_mapping():
    document = services.playbook_load_file(path=services.DEFAULT_PATH)
    assert document["name"] == "山东联通3G客户入网导入期服务方案(试行)"
    assert document["quiet_hours"] == {"start": "08:00", "end": "21:00"}


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: 方案\nstages:\n  - number: 1\n    code: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        services.playbook_load_file(path=path)
    message = str(caught.value)
    assert message.startswith(f"{path}: YAML syntax error at line ")
    assert "column" in message


def test_a_key_given_twice_is_an_error_not_a_silent_override(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("name: 甲\nname: 乙\nstages: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2, column 1: duplicate key 'name' \(first given at line 1\)"):
        services.playbook_load_file(path=path)


def test_yaml_merge_keys_may_be_overridden(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {start: 0, end: 3}\nwindow:\n  <<: *b\n  end: 5\n", encoding="utf-8")
    assert services.playbook_load_file(path=path)["window"] == {"start": 0, "end": 5}


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        services.playbook_load_file(path=tmp_path / "missing.yaml")


def test_a_file_in_another_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("name: 山东联通\n".encode("gbk"))
    with pytest.raises(ValueError, match="not UTF-8"):
        services.playbook_load_file(path=path)


def test_a_file_saved_with_a_byte_order_mark_reads_fine(tmp_path):
    path = tmp_path / "bom.yaml"
    path.write_text("name: 山东联通\nstages: []\n", encoding="utf-8-sig")
    assert services.playbook_load_file(path=path)["name"] == "山东联通"


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_a_file_that_is_not_a_mapping_is_refused(tmp_path, text):
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="the top level must be a mapping"):
        services.playbook_load_file(path=path)
