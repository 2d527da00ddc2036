"""What the double "generates": prompt rendering, token counting, truncation and canned answers.

Tokenization (documented so tests can compute expectations by hand):

* `count_tokens(text) = ceil(len(text) / 4)` — about four characters per token; each image in a
  message adds 768 tokens, as Ollama's truncation estimate does.
* The prompt is the conversation rendered with the model's template:
  - phi4 / phi4-reasoning: `<|im_start|>{role}<|im_sep|>{content}<|im_end|>` per message, then
    `<|im_start|>assistant<|im_sep|>`;
  - phi4-mini / phi4-mini-reasoning: `<|{role}|>{content}<|end|>` per message, then `<|assistant|>`.
  A model's baked SYSTEM prompt (phi4-reasoning) is prepended as a system message when the first
  message is not a system message.
* Truncation (docs/ollama-behaviour.md §3.1): if the rendered prompt has more than `num_ctx`
  tokens, the oldest non-system messages are dropped one at a time (system messages are kept, the
  last message is always kept) until it fits; no room is reserved for the reply.
* One streamed chunk is one generated token: `eval_count` is the number of chunks (thinking and
  content) that were sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.ollama_double.models import ModelSpec

IMAGE_TOKENS = 768


def count_tokens(text: str) -> int:
    """About four characters per token, rounded up."""
    return (len(text) + 3) // 4


def render_message(style: str, role: str, content: str) -> str:
    if style == "mini":
        return f"<|{role}|>{content}<|end|>"
    return f"<|im_start|>{role}<|im_sep|>{content}<|im_end|>"


def render_prompt(spec: ModelSpec, messages: list[dict[str, Any]]) -> str:
    """The prompt text for `messages` (already including any baked system message)."""
    parts = [
        render_message(
            spec.prompt_style, str(m.get("role") or "user").lower(), str(m.get("content") or "")
        )
        for m in messages
    ]
    parts.append(
        "<|assistant|>" if spec.prompt_style == "mini" else "<|im_start|>assistant<|im_sep|>"
    )
    return "".join(parts)


def prompt_tokens(spec: ModelSpec, messages: list[dict[str, Any]]) -> int:
    images = sum(len(m.get("images") or []) for m in messages)
    return count_tokens(render_prompt(spec, messages)) + IMAGE_TOKENS * images


def with_baked_system(spec: ModelSpec, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if spec.system and (not messages or messages[0].get("role") != "system"):
        return [{"role": "system", "content": spec.system}, *messages]
    return list(messages)


def truncate_messages(
    spec: ModelSpec, messages: list[dict[str, Any]], num_ctx: int
) -> list[dict[str, Any]]:
    """Drop the oldest non-system messages until the prompt fits `num_ctx`.

    System messages are kept and the last message is always kept, even if it alone is too long.
    """
    for start in range(len(messages)):
        kept = [m for m in messages[:start] if str(m.get("role")).lower() == "system"]
        kept += messages[start:]
        if start == len(messages) - 1 or prompt_tokens(spec, kept) <= num_ctx:
            return kept
    return list(messages)


@dataclass(frozen=True)
class Reply:
    """A reply to stream: optional thinking, then content, each cut into the given chunks."""

    thinking_chunks: tuple[str, ...]
    content_chunks: tuple[str, ...]


def split_chunks(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


def split_think_tags(reasoning: str, answer: str, size: int) -> list[str]:
    """`<think>reasoning</think>answer` in chunks where both tags are cut in the middle."""
    chunks = ["<thi", "nk>"]
    chunks += split_chunks(reasoning, size)
    chunks += ["</th", "ink>"]
    chunks += split_chunks(answer, size)
    return chunks


MATH_ANSWER = r"""Here is some mathematics.

Euler's identity is $e^{i\pi} + 1 = 0$, and the area under $x^2$ from 0 to 1 is

$$
\int_0^1 x^2\,dx = \frac{1}{3}
$$

The quadratic formula, in bracket form: \[ x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a} \]

A plain price is not math: the book costs $5 and the pen $10."""

CODE_ANSWER = '''Here is a small Python function:

```python
def fibonacci(n: int) -> list[int]:
    """Return the first n Fibonacci numbers."""
    numbers = [0, 1]
    while len(numbers) < n:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:n]
```

Call it as `fibonacci(10)`; it runs in **O(n)** time.'''

TABLE_ANSWER = """| Model | Parameters | Context |
| --- | ---: | ---: |
| phi4 | 14.7B | 16384 |
| phi4-mini | 3.8B | 131072 |
| phi4-reasoning | 14.7B | 32768 |

*Figures as the Ollama library lists them.*"""

LONG_ANSWER = "\n\n".join(
    f"{i}. Paragraph {i} of a long answer, written so that the context meter has something to "
    f"count. It mentions *emphasis*, `inline code` and a number, {i * 7}."
    for i in range(1, 41)
)

REASONING = (
    "The user asked something; let me think about what they want and answer step by step. "
    "First I restate the question, then I check the facts, then I write a short answer."
)


def canned_answer(prompt: str) -> str:
    """A deterministic answer chosen by keywords in the last user message."""
    lowered = prompt.lower()
    if any(word in lowered for word in ("math", "latex", "equation", "formula")):
        return MATH_ANSWER
    if any(word in lowered for word in ("code", "python", "function")):
        return CODE_ANSWER
    if "table" in lowered:
        return TABLE_ANSWER
    if "long" in lowered:
        return LONG_ANSWER
    quoted = prompt.strip() or "(nothing)"
    if len(quoted) > 200:
        quoted = quoted[:200] + "…"
    return f"You said: {quoted}\n\nThis is a **canned reply** from the Ollama test double."
