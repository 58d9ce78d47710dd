"""The page tests' form parser reads a form as a browser sends it."""

from __future__ import annotations

from tests.web.client import Site, forms

PAGE = """
<form method="get" action="/claims"><input name="customer" value="x"></form>
<form method="post" action="/engagements/E-WS/add?step=2" id="add">
  <input type="hidden" name="form_key" value="k&amp;1">
  <input type="hidden" name="csrf" value="c">
  <input type="checkbox" name="engagement_ids" value="E-WS" checked>
  <input type="checkbox" name="engagement_ids" value="E-AS">
  <input type="checkbox" name="engagement_ids" value="E-VAR" checked>
  <input type="checkbox" name="agree" checked>
  <input type="radio" name="kind" value="a">
  <input type="radio" name="kind" value="b" checked>
  <input name="disabled" value="no" disabled>
  <input name="typed">
  <select name="location_id"><option value="LOC-A1">A1</option>
    <option value="LOC-A2" selected>A2</option></select>
  <select name="first"><option value="one">1</option><option value="two">2</option></select>
  <textarea name="reason">a &lt;b&gt;</textarea>
  <button name="go" value="back">Back</button>
  <button name="go" value="next">Next</button>
</form>
"""


def test_a_form_is_read_as_a_browser_sends_it() -> None:
    get, post = forms(PAGE)
    assert (get.method, post.method, post.id) == ("get", "post", "add")
    assert post.fields == [
        ("form_key", "k&1"),
        ("csrf", "c"),
        ("engagement_ids", "E-WS"),
        ("engagement_ids", "E-VAR"),  # each box checked under the name, in order
        ("agree", "on"),
        ("kind", "b"),
        ("typed", ""),
        ("location_id", "LOC-A2"),
        ("first", "one"),  # no option selected: the first
        ("reason", "a <b>"),
    ]
    assert post.buttons == [("go", "back"), ("go", "next")]
    assert post.keys() == {"form_key": "k&1", "csrf": "c"}
    sent = post.data("next", {"engagement_ids": ["E-AS"], "typed": "t"}, without={"agree"})
    assert [v for k, v in sent if k == "engagement_ids"] == ["E-AS"]
    assert ("typed", "t") in sent and sent[-1] == ("go", "next")
    assert "agree" not in dict(sent)
    assert Site.form(PAGE, "/engagements/E-WS/add") is not None
    assert Site.form(PAGE).action == "/engagements/E-WS/add?step=2"  # the last POST form
