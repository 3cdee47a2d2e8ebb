"""The README and docs/ stay short where they promise to, and every relative link or image in them resolves to a
file inside the repository (and, for a page, to one of its headings when it names an anchor)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.I)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def link_targets(text: str) -> list[str]:
    """Link and image targets of a markdown text, leaving out code blocks and inline code."""
    prose = CODE.sub("", FENCE.sub("", text))
    return LINK.findall(prose) + HTML_SRC.findall(prose)


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a markdown page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8")))
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Relative targets of ``page`` that leave ``root``, name no file, or name an anchor the page they point to
    does not have."""
    bad = []
    for target in link_targets(page.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        if EXTERNAL.match(target):
            continue
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(root) or not resolved.exists():
            bad.append(target)
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            bad.append(target)
    return bad


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    assert broken_links(page) == []


def test_a_broken_or_escaping_link_is_caught(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text("\n".join([
        "# The top (`sole x`)",
        "![ok](img/a.png) [ok](page.md#the-top-sole-x) [ok](#the-top-sole-x) [web](https://example.org)",
        "`[code](nowhere.md)` [gone](img/b.png) [out](../outside.md) [no such heading](#the-bottom)",
        "<img src=\"missing.png\">",
        "```", "# not a heading", "[in a block](also-nowhere.md)", "```",
        "[a heading only inside a block](#not-a-heading)",
    ]), encoding="utf-8")
    assert broken_links(page, tmp_path) == ["img/b.png", "../outside.md", "#the-bottom", "#not-a-heading",
                                            "missing.png"]


def test_readme_and_results_stay_short() -> None:
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 160
    assert (ROOT / "docs" / "results.md").stat().st_size <= 25_000
