"""The stream keeps its parse across a commit and across a paragraph's new lines, and still
gives exactly the full render at every point."""

from __future__ import annotations

import pytest

from tests.unit.test_render_stream_live import stream_checked

DEFINITIONS_IN_LIVE_BLOCKS = {
    "in a list's first item": "- [r]: /u\n- see [r] here\n- more words\n- and more\n",
    "in a quote's first paragraph": "> [r]: /u\n>\n> see [r] here\n>\n> more words\n",
    "after a paragraph": "intro words\n\n- [r]: /u\n- see [r] here\n- more words\n- more\n",
}


@pytest.mark.parametrize(
    "text", DEFINITIONS_IN_LIVE_BLOCKS.values(), ids=DEFINITIONS_IN_LIVE_BLOCKS.keys()
)
def test_a_definition_in_a_committed_part_of_the_live_block_stays_known(text: str) -> None:
    """The first frame that sees the block whole commits its first part, definition and all;
    later frames parse only the live part and must still know the definition."""
    for first in range(len(text) // 2, len(text)):
        for size in (1, 3, 7):
            stream_checked(text, list(range(first, len(text), size)))
