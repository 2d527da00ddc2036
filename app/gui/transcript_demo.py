"""Show a TranscriptView with a sample chat; optionally save a screenshot of it.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1400x900x24" \\
        .venv/bin/python -m app.gui.transcript_demo --theme dark --screenshot build/dark.png

The sample has a user question, a reasoning block, inline and display math (matrices, an aligned
environment), money amounts, a table and highlighted code, and one message marked "not in
context". The PNG is taken once the page has loaded and KaTeX has typeset every equation.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.gui.application import prepare_environment
from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import render_markdown

_QUESTION_OLD = "Quick one: what's $2^{10}$?"
_ANSWER_OLD = "$2^{10} = 1024$."
_QUESTION = (
    "Can you diagonalize $A = \\begin{pmatrix} 2 & 1 \\\\ 1 & 2 \\end{pmatrix}$ and show "
    "numpy code? Also, is it worth $5 or $10 to learn this?"
)
_THINKING = (
    "The matrix is symmetric, so it has an orthonormal eigenbasis. "
    "Characteristic polynomial: $(2-\\lambda)^2 - 1 = 0$, so $\\lambda \\in \\{1, 3\\}$."
)
_ANSWER = """\
Since $A = A^\\top$, it is **orthogonally diagonalizable**: $A = Q \\Lambda Q^\\top$.

### Eigenvalues

\\begin{align}
\\det(A - \\lambda I) &= (2-\\lambda)^2 - 1 \\\\
                     &= (\\lambda - 1)(\\lambda - 3) = 0
\\end{align}

| eigenvalue | eigenvector | multiplicity |
|:--:|:--|--:|
| $\\lambda_1 = 1$ | $\\frac{1}{\\sqrt 2}(1, -1)^\\top$ | 1 |
| $\\lambda_2 = 3$ | $\\frac{1}{\\sqrt 2}(1, 1)^\\top$ | 1 |

So
$$
Q = \\frac{1}{\\sqrt{2}}\\begin{pmatrix} 1 & 1 \\\\ -1 & 1 \\end{pmatrix}, \\qquad
\\Lambda = \\begin{pmatrix} 1 & 0 \\\\ 0 & 3 \\end{pmatrix}
$$

```python
import numpy as np

A = np.array([[2.0, 1.0], [1.0, 2.0]])
w, Q = np.linalg.eigh(A)          # w = [1. 3.]
assert np.allclose(Q @ np.diag(w) @ Q.T, A)
print(f"cost: ${5 + 10}")           # money in code is not math
```

As for the price: between $5 and $10 is a bargain. See [NumPy's `eigh`](https://numpy.org/doc/stable/reference/generated/numpy.linalg.eigh.html).
"""


def sample_messages() -> list[TranscriptMessage]:
    return [
        TranscriptMessage("m1", "user", render_markdown(_QUESTION_OLD), None, {}),
        TranscriptMessage("m2", "assistant", render_markdown(_ANSWER_OLD), None, {}),
        TranscriptMessage("m3", "user", render_markdown(_QUESTION), None, {"caption": "12:04"}),
        TranscriptMessage(
            "m4",
            "assistant",
            render_markdown(_ANSWER),
            render_markdown(_THINKING),
            {"caption": "phi4-reasoning · 14.2 tok/s", "thinking_seconds": "6.4"},
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Show the transcript view with a sample chat.")
    parser.add_argument("--theme", choices=("light", "dark", "system"), default="system")
    parser.add_argument("--screenshot", metavar="PATH", help="save a PNG of the window and quit")
    parser.add_argument("--open-reasoning", action="store_true", help="expand the reasoning block")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))

    prepare_environment(offscreen=False)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    view = TranscriptView()
    view.setWindowTitle("PhiDesk transcript")
    view.resize(1000, 860)
    view.set_theme(args.theme)
    view.set_messages(sample_messages())
    view.mark_out_of_context(["m1", "m2"])
    view.show()
    result = {"code": 0}

    def check() -> None:
        if not view.loaded:
            QTimer.singleShot(100, check)
            return
        if args.open_reasoning:
            view.page().runJavaScript(
                "document.querySelector('details.thinking:not([hidden])').open = true;", 0
            )
        view.page().runJavaScript("JSON.stringify(phidesk.state())", 0, shoot)

    def shoot(state: object) -> None:
        import json

        info = json.loads(str(state))
        if info["typeset"] + info["raw"] < info["math"] or info["messages"] < 4:
            QTimer.singleShot(100, check)
            return
        QTimer.singleShot(400, save)  # let fonts settle and the page paint

    def save() -> None:
        image = view.grab()
        if not image.save(args.screenshot, "PNG"):
            print(f"could not write {args.screenshot}", file=sys.stderr)
            result["code"] = 1
        app.quit()

    if args.screenshot:
        QTimer.singleShot(100, check)
        QTimer.singleShot(30_000, app.quit)
    app.exec()
    return result["code"]


if __name__ == "__main__":
    raise SystemExit(main())
