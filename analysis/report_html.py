"""A small builder of self-contained HTML pages: escaped text, tables, embedded PNG figures, no external files.

Everything a page needs is inside the one file (inline CSS, figures as ``data:image/png;base64`` URIs, no
scripts), so a report opens offline and can be mailed to a colleague.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from analysis.style import data_uri

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .8em; max-height: 30em; }
.supported { color: #1a7f1a; font-weight: bold; } .refuted { color: #b22; font-weight: bold; }
.inconclusive { color: #8a7a00; font-weight: bold; } .error { color: #777; font-weight: bold; }
.warning { color: #a55; } .meta { color: #555; font-size: .9em; }
"""


class Page:
    """An HTML page assembled from sections; :meth:`render` returns the whole document."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        """A heading (h1 to h4)."""
        self.parts.append(f"<h{level}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        """A paragraph of escaped text."""
        attr = f' class="{css_class}"' if css_class else ""
        self.parts.append(f"<p{attr}>{html.escape(text)}</p>")

    def items(self, lines: list[str], css_class: str | None = None) -> None:
        """A bulleted list of escaped lines."""
        attr = f' class="{css_class}"' if css_class else ""
        self.parts.append(f"<ul{attr}>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")

    def table(self, frame: pd.DataFrame, float_format: str = "{:.4g}", classes: dict[str, str] | None = None) -> None:
        """A table of ``frame`` (index dropped); ``classes`` maps a column to style its cells by their value."""
        shown = frame.copy()
        for column in shown.columns:
            if pd.api.types.is_float_dtype(shown[column]):
                shown[column] = shown[column].map(lambda v: "-" if pd.isna(v) else float_format.format(v))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
        rows = []
        for _, row in shown.iterrows():
            cells = []
            for column in shown.columns:
                value = html.escape(str(row[column]))
                css = f' class="{html.escape(str(row[column]))}"' if classes and column in classes else ""
                cells.append(f"<td{css}>{value}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")

    def figure(self, fig: Figure, caption: str) -> None:
        """A figure embedded as a PNG data URI, with its caption (also the image's alt text)."""
        alt = html.escape(caption, quote=True)
        self.parts.append(f'<figure><img src="{data_uri(fig)}" alt="{alt}"><figcaption>{html.escape(caption)}'
                          "</figcaption></figure>")

    def code(self, document: Any, summary: str) -> None:
        """A collapsible block of JSON (a config or a manifest)."""
        text = html.escape(json.dumps(document, indent=2, sort_keys=True, default=str))
        self.parts.append(f"<details><summary>{html.escape(summary)}</summary><pre>{text}</pre></details>")

    def render(self) -> str:
        """The complete document."""
        title = html.escape(self.title)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<link rel=\"icon\" href=\"data:,\"><title>{title}</title><style>{CSS}</style></head>"
                f"<body><h1>{title}</h1>\n" + "\n".join(self.parts) + "\n</body></html>\n")
