"""Markdown, code and math rendering of model answers, including the streaming renderer.

Qt-free: the transcript view, the exporter and the CLI all use it.

- `render_markdown(text)`: the HTML of one message body.
- `StreamRenderer`: `push(delta)` / `take()` (or `feed(delta)`), `html()`, `finish()`.
- `pygments_css()`: code highlighting styles for the light and dark themes.
"""

from app.render.highlight import pygments_css
from app.render.markdown import render_markdown
from app.render.stream import StreamRenderer, StreamUpdate

__all__ = ["StreamRenderer", "StreamUpdate", "pygments_css", "render_markdown"]
