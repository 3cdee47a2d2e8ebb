from sole.eval.report import Section, write_report


def test_report_escapes_and_links(tmp_path):
    page = write_report(tmp_path / "r.html", "demo <1>", [
        Section("scores", text="a & b", table=[{"task": "window-close", "voc": 0.912}],
                images=["curves.png"], videos=[("v/a.mp4", "expert <ok>")]),
    ])
    text = page.read_text()
    assert "demo &lt;1&gt;" in text and "a &amp; b" in text
    assert "<td>0.91</td>" in text and 'src="v/a.mp4"' in text and "expert &lt;ok&gt;" in text
