from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Set, Tuple, Union

import pytest

from dflow.python.typecheck import NestedDict, check_type, explain_mismatch, type_name


@pytest.mark.parametrize("value,tp,ok", [
    (3, int, True), (True, int, False), (3.0, int, False),
    (3, float, True), (3.5, float, True), (True, float, False),
    ("a", str, True), (1, str, False), (True, bool, True), (1, bool, False),
    ({}, dict, True), ([], list, True), ([], dict, False),
    (None, Optional[int], True), (3, Optional[int], True), ("a", Optional[int], False),
    ("a", Union[int, str], True), (1.5, Union[int, str], False),
    ([1, 2], List[int], True), ([1, "a"], List[int], False), ([1, True], List[int], False),
    ({"a": 1}, Dict[str, int], True), ({1: 1}, Dict[str, int], False), ({"a": "b"}, Dict[str, int], False),
    ((1, 2), Tuple[int, int], True), ((1,), Tuple[int, int], False), ((1, 2, 3), Tuple[int, ...], True),
    ({1, 2}, Set[int], True), ([1], Set[int], False),
    ("a", Literal["a", "b"], True), ("c", Literal["a", "b"], False),
    (object(), Any, True),
    (Path("x"), Path, True), ("x", Path, True), (3, Path, False),
    ([Path("a"), "b"], List[Path], True), ({"k": Path("a")}, Dict[str, Path], True),
    ({"a": {"b": Path("x")}, "c": Path("y")}, NestedDict[Path], True),
    ({"a": {"b": 3}}, NestedDict[Path], False),
    ([[1], [2, 3]], List[List[int]], True), ([[1], ["x"]], List[List[int]], False),
])
def test_check_type(value, tp, ok):
    assert check_type(value, tp) is ok


@pytest.mark.parametrize("tp,name", [
    (int, "int"), (str, "str"), (List[int], "List[int]"), (Path, "Path"), (List[Path], "List[Path]"),
    (Dict[str, Path], "Dict[str, Path]"), (NestedDict[Path], "NestedDict[Path]"),
    (Optional[int], "Optional[int]"), (Union[int, str], "Union[int, str]"), (Any, "Any"),
    (Tuple[int, ...], "Tuple[int, ...]"), (List, "List"), (dict, "dict"),
])
def test_type_name(tp, name):
    assert type_name(tp) == name


def test_explain_mismatch_nested():
    msg = explain_mismatch([1, "a"], List[int])
    assert msg == "expected List[int], found list [1, 'a'] (element 1: expected int, found str 'a')"
    assert explain_mismatch([1], List[int]) is None


def test_nested_dict_alias_identity():
    assert NestedDict[Path] == NestedDict[Path]
    assert NestedDict[Path].__origin__ is NestedDict
    assert isinstance(NestedDict({"a": 1}), dict)
