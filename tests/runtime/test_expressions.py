import pytest

from dflow.expressions import eval_condition, eval_expr, find_refs, substitute, to_text

VARS = {
    "inputs": {"parameters": {"x": "3", "l": "[1, 2, 3]", "obj": '{"a": {"b": [5, 6]}}', "s": "hi"}},
    "steps": {"a-b": {"outputs": {"parameters": {"y": "5"}}}},
    "item": {"field": "f1"},
    "workflow": {"name": "wf-1"},
}


def resolver(ref):
    flat = {
        "inputs.parameters.x": "3",
        "steps.a-b.outputs.parameters.y": "5",
        "tasks.t.outputs.parameters.y": "7",
        "item": "4",
        "workflow.name": "wf-1",
        "inputs.parameters.l": "[1,2,3]",
    }
    return flat[ref]


@pytest.mark.parametrize("expr,value", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("7 / 2", 3.5), ("7 % 4", 3), ("-3 + 1", -2),
    ("'a' + \"b\"", "ab"), ("1 < 2", True), ("2 <= 1", False), ("1 == 1.0", True), ("'a' != 'b'", True),
    ("true && false", False), ("true || false", True), ("!true", False), ("not false", True),
    ("true and not false", True), ("1 < 2 ? 'yes' : 'no'", "yes"), ("nil", None),
    ("2 in [1, 2]", True), ("'z' in ['a']", False), ("[1, 2][1]", 2),
    ("asInt(inputs.parameters.x) + 1", 4), ("asFloat(inputs.parameters.x) / 2", 1.5),
    ("steps['a-b'].outputs.parameters['y']", "5"), ("inputs.parameters.s", "hi"),
    ("sprig.fromJson(inputs.parameters.l)[2]", 3), ("fromJson(inputs.parameters.obj).a.b[1]", 6),
    ("len(sprig.fromJson(inputs.parameters.l))", 3), ("toJson([1, 'a'])", '[1,"a"]'),
    ("sprig.untilStep(0, 10, 4)", [0, 4, 8]), ("sprig.atoi('12')", 12), ("sprig.atoi('x')", 0),
    ("sprig.int('5')", 5), ("sprig.float64('2.5')", 2.5), ("string(3)", "3"),
    ("jsonpath(inputs.parameters.obj, '$.a.b[0]')", 5), ("item.field", "f1"),
    ("workflow.name == 'wf-1'", True), ("asInt('3') > 2 && len('abc') == 3", True),
])
def test_eval_expr(expr, value):
    got = eval_expr(expr, VARS)
    assert got == value and type(got) is type(value)


def test_eval_expr_with_callable_variables():
    assert eval_expr("asInt(steps['a-b'].outputs.parameters.y) * 2", resolver) == 10
    assert eval_expr("sprig.fromJson(inputs.parameters.l)[0]", resolver) == 1
    assert eval_expr("tasks.t.outputs.parameters.y", resolver) == "7"


def test_unknown_variable_and_function():
    with pytest.raises(ValueError, match="unknown variable 'inputs.parameters.nope'"):
        eval_expr("inputs.parameters.nope", VARS)
    with pytest.raises(ValueError, match="unknown function 'nofunc'"):
        eval_expr("nofunc(1)")


@pytest.mark.parametrize("bad,pos", [("1 +", 3), ("(1 + 2", 6), ("1 2", 2), ("a ? b", 5), ("'abc", 0)])
def test_syntax_errors_name_expression_and_position(bad, pos):
    with pytest.raises(ValueError) as e:
        eval_expr(bad, VARS)
    assert repr(bad) in str(e.value)
    assert "position %d" % pos in str(e.value)


def test_substitute():
    text = "x={{inputs.parameters.x}} y={{ steps.a-b.outputs.parameters.y }} i={{item}} w={{workflow.name}}"
    assert substitute(text, resolver) == "x=3 y=5 i=4 w=wf-1"
    assert substitute("{{=asInt(item) * 2}}", resolver) == "8"
    assert substitute("{{=asInt(item) / 2}}", resolver) == "2"
    assert substitute("{{=sprig.untilStep(0, 3, 1)}}", resolver) == "[0,1,2]"
    assert substitute("{{=asInt(item) > 1}}", resolver) == "true"
    assert substitute("no refs", resolver) == "no refs"
    with pytest.raises(KeyError):
        substitute("{{inputs.parameters.missing}}", resolver)


def test_find_refs():
    text = "{{inputs.parameters.x}} {{=asInt(steps['a-b'].outputs.parameters.y) + asInt(item)}} {{inputs.parameters.x}}"
    assert find_refs(text) == ["inputs.parameters.x", "steps.a-b.outputs.parameters.y", "item"]
    assert find_refs(text, include_expressions=False) == ["inputs.parameters.x"]


@pytest.mark.parametrize("text,value", [
    ("3 < 10", True), ("10 < 3", False), ("'a' == 'a'", True), ("'a' == 'b'", False), ("true", True),
    ("false", False), ("hello == hello", True), ("hello != world", True), ("2 > 1 && 4 < 3", False),
    ("2 > 1 || 4 < 3", True), ("heads == heads", True), ("tails == 'heads'", False),
    ("1.5 >= 1.5", True), ("10 > 9", True), ("'10' > '9'", False), ("hello world == hello world", True),
    ("Succeeded == Succeeded", True), ("my-step-1 == my-step-1", True), ("!(1 > 2)", True),
    ("3 == 3.0", True),
])
def test_eval_condition(text, value):
    assert eval_condition(text) is value


def test_eval_condition_errors():
    with pytest.raises(ValueError, match="not a boolean"):
        eval_condition("3 + 4")
    with pytest.raises(ValueError, match="invalid expression"):
        eval_condition("3 < ")


def test_to_text():
    assert to_text(3.0) == "3" and to_text(0.5) == "0.5" and to_text(True) == "true"
    assert to_text({"a": [1.0, "x"]}) == '{"a":[1,"x"]}' and to_text(None) == "null"


def test_parse_cache_is_used():
    from dflow.exprparse import _parse_cached

    before = _parse_cached.cache_info().hits
    eval_expr("1 + 41")
    eval_expr("1 + 41")
    assert _parse_cached.cache_info().hits >= before + 1


def test_map_filter_all_any_with_closures():
    from dflow.expressions import eval_expr

    assert eval_expr("map([1, 2, 3], {# * 2})") == [2, 4, 6]
    assert eval_expr("filter([1, 2, 3, 4], {# % 2 == 0})") == [2, 4]
    assert eval_expr("all([1, 2], {# > 0})") is True
    assert eval_expr("any([1, 2], {# > 1.5})") is True
    assert eval_expr("map(sprig.untilStep(0, 2, 1), { {'i': #, 'v': ['a', 'b'][#]} })") == [
        {"i": 0, "v": "a"}, {"i": 1, "v": "b"}]
    assert eval_expr("map([[1, 2], [3]], {len(#)})") == [2, 1]


def test_hash_outside_a_predicate_is_an_error():
    import pytest

    from dflow.expressions import eval_expr

    with pytest.raises(ValueError, match="outside map/filter"):
        eval_expr("# + 1")


def test_argo_enumerate_is_plain_expression_language():
    import json

    from dflow import argo_enumerate
    from dflow.expressions import eval_expr

    e = argo_enumerate(["p", "q"], [1, 2])
    assert json.loads(eval_expr(e.expr)) == [{"order": 0, "value0": "p", "value1": 1},
                                             {"order": 1, "value0": "q", "value1": 2}]
    assert json.loads(eval_expr(argo_enumerate(["p"]).expr)) == [{"order": 0, "value": "p"}]  # dflow's names
    assert json.loads(eval_expr(argo_enumerate(x=["p"]).expr)) == [{"order": 0, "x": "p"}]
    assert "dflow_" not in e.expr


def test_string_operators_and_json_builtins_of_expr_lang():
    from dflow.expressions import eval_expr

    assert eval_expr("'deadline exceeded' contains 'deadline'") is True
    assert eval_expr("'abc' startsWith 'ab' && 'abc' endsWith 'bc'") is True
    assert eval_expr("flatten([[1, 2], [3], 4])") == [1, 2, 3, 4]
    assert eval_expr("fromJSON('[1, [2]]')[1][0]") == 2
    import json

    assert json.loads(eval_expr("toJSON(fromJSON('{\"a\": 1}'))")) == {"a": 1}
