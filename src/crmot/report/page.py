"""The report's HTML: tables, inline SVG bar charts and video cards, in one self-contained page."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

BAR_COLOURS = ("#3b7dd8", "#e07b39", "#4caf50", "#9c27b0")

STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;background:#fafafa;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}td:first-child,th:first-child{text-align:left}
.card{display:inline-block;vertical-align:top;margin:6px;padding:6px;background:#fff;border:1px solid #ddd;max-width:100%}
.card p{margin:2px 0 6px;font-size:13px;max-width:960px}video{display:block;max-width:100%}
.muted{color:#777;font-size:12px}[hidden]{display:none!important}
"""

#: Marks each video with its duration once the browser has read it (what the report's test checks).
SCRIPT = """
function pick(select){const card=select.closest('.card');
  for(const v of card.querySelectorAll('video')){v.hidden=v.dataset.source!==select.value;}}
for(const v of document.querySelectorAll('video')){
  v.addEventListener('loadedmetadata',()=>{v.dataset.duration=v.duration;});v.load();}
"""


@dataclass
class Page:
    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def note(self, text: str) -> None:
        self.parts.append(f'<p class="muted">{html.escape(text)}</p>')

    def table(self, header: list[str], rows: list[list], row_class: str = "") -> None:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(f'<tr class="{row_class}">' + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def bars(self, labels: list[str], series: dict[str, list[float]], maximum: float = 100.0) -> None:
        """Grouped horizontal bars, one group per label, one bar per series (values 0..maximum)."""
        bar, gap, left, width = 7, 6, 260, 420
        group = bar * len(series) + gap
        height = group * len(labels) + 24
        out = [f'<svg width="{left + width + 60}" height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="11">']
        for i, label in enumerate(labels):
            y = 20 + i * group
            out.append(f'<text x="{left - 6}" y="{y + bar * len(series) / 2 + 4}" text-anchor="end">'
                       f"{html.escape(label[:44])}</text>")
            for j, (name, values) in enumerate(series.items()):
                value = max(float(values[i]), 0.0)
                length = width * min(value / maximum, 1.0)
                out.append(f'<rect x="{left}" y="{y + j * bar}" width="{length:.1f}" height="{bar - 1}" '
                           f'fill="{BAR_COLOURS[j % len(BAR_COLOURS)]}"><title>{html.escape(name)}: {value:.2f}</title></rect>')
        legend = "".join(f'<tspan fill="{BAR_COLOURS[j % len(BAR_COLOURS)]}">■ {html.escape(n)}  </tspan>'
                         for j, n in enumerate(series))
        out.append(f'<text x="{left}" y="12">{legend}</text></svg>')
        self.parts.append("".join(out))

    def videos(self, caption: str, sources: dict[str, str]) -> None:
        """One card: a video per source (file name), a selector when there are several."""
        names = list(sources)
        choose = ""
        if len(names) > 1:
            options = "".join(f'<option value="{html.escape(n)}">{html.escape(n)}</option>' for n in names)
            choose = f'<select onchange="pick(this)">{options}</select>'
        clips = "".join(f'<video controls muted loop preload="metadata" data-source="{html.escape(n)}" '
                        f'src="{html.escape(src)}"{" hidden" if k else ""}></video>'
                        for k, (n, src) in enumerate(sources.items()))
        self.parts.append(f'<div class="card"><p>{html.escape(caption)}</p>{choose}{clips}</div>')

    def render(self) -> str:
        return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{''.join(self.parts)}"
                f"<script>{SCRIPT}</script></body></html>")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return html.escape("–" if value is None else str(value))
