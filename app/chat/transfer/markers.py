"""The markers that make a file a PhiDesk export, shared by the writer and the reader."""

from __future__ import annotations

from typing import Final

FORMAT_VERSION: Final = 1
MARKER_KEY: Final = "phidesk_export"
META_PREFIX: Final = "<!-- phidesk "
META_SUFFIX: Final = " -->"
