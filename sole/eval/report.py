"""One self-contained HTML page: summary tables, plots and annotated videos, with paths relative to the page."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    title: str
    text: str = ""
    table: list[dict] = field(default_factory=list)
    """Rows of a table (dicts with the same keys); floats are shown with 2 decimals."""
    images: list[str] = field(default_factory=list)
    """Image paths relative to the report."""
    videos: list[tuple[str, str]] = field(default_factory=list)
    """(video path relative to the report, caption)."""


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figcaption { font-size: 0.8em; max-width: 520px; }
img { max-width: 100%; }
"""


def _cell(v: object) -> str:
    return f"{v:.2f}" if isinstance(v, float) else html.escape(str(v))


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k, ''))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(s: Section) -> str:
    parts = [f"<h2>{html.escape(s.title)}</h2>"]
    if s.text:
        parts.append(f"<p>{html.escape(s.text)}</p>")
    parts.append(_table(s.table))
    parts += [f'<img src="{html.escape(p)}" alt="{html.escape(p)}">' for p in s.images]
    parts += [f'<figure><video src="{html.escape(p)}" controls loop muted width="512"></video>'
              f"<figcaption>{html.escape(c)}</figcaption></figure>" for p, c in s.videos]
    return "\n".join(parts)


def write_report(path: str | Path, title: str, sections: list[Section], intro: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join(_section(s) for s in sections)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(intro)}</p>{body}</body></html>")
    path.write_text(page)
    return path
