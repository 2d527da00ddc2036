"""The markers that make a file a PhiDesk export, shared by the writer and the reader."""

from __future__ import annotations

from typing import Final

FORMAT_VERSION: Final = 1
"""The format of a chat shown as one path (every chat without `all_branches`)."""
TREE_FORMAT_VERSION: Final = 2
"""The format of a chat with every version of its messages (`all_branches`, see `tree`)."""
NEWEST_FORMAT: Final = TREE_FORMAT_VERSION
"""The newest format this PhiDesk reads."""
ORIGINALS_FOLDER: Final = "attachments/"
"""Where a .zip export keeps the original bytes of attached files (see `originals`)."""
MARKER_KEY: Final = "phidesk_export"
META_PREFIX: Final = "<!-- phidesk "
META_SUFFIX: Final = " -->"
