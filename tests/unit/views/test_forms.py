"""Form fields turned into the values the methods take."""
import pytest
from webob.multidict import MultiDict

from s01.worker.exceptions import InvalidParams
from s01.worker.views import forms


def post(**fields):
    return MultiDict(fields)


def test_text_is_stripped_and_blank_is_the_default():
    assert forms.text(post(a="  x "), "a") == "x"
    assert forms.text(post(a="   "), "a", "d") == "d"
    assert forms.text(post(), "a") is None


def test_a_huge_field_is_refused():
    with pytest.raises(InvalidParams, match="a: longer than"):
        forms.text(post(a="x" * (forms.MAX_FIELD + 1)), "a")


def test_flags_and_numbers():
    assert forms.flag(post(t="on"), "t") is True
    assert forms.flag(post(), "t") is False
    assert forms.number(post(n=" 3 "), "n") == 3
    assert forms.number(post(n=""), "n") is None
    with pytest.raises(InvalidParams, match="n: '3.5' is not a whole"):
        forms.number(post(n="3.5"), "n")


def test_pairs_read_name_value_lines():
    text = "a=1\n\n# note\n b = two=2 \nc="
    assert forms.pairs(post(args=text), "args") == {
        "a": "1", "b": "two=2", "c": ""}
    assert forms.pairs(post(args=" \n# only a note"), "args") is None


@pytest.mark.parametrize("text", ["novalue", "=x", "a=1\n  =2"])
def test_pairs_refuse_lines_without_a_name(text):
    with pytest.raises(InvalidParams, match="args: line"):
        forms.pairs(post(args=text), "args")


def test_pairs_refuse_too_many_lines():
    text = "\n".join("a%d=1" % n for n in range(forms.MAX_LINES + 1))
    with pytest.raises(InvalidParams, match="more than"):
        forms.pairs(post(args=text), "args")
