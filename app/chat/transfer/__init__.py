"""Chats as Markdown files: export, import, file names. No Qt.

The format is described for users in `docs/export-format.md`. In short:

    ---                                   front matter: one `key: value` a line, every value
    phidesk_export: 1                     written in JSON syntax (which YAML reads the same)
    title: "Primes"
    ...
    ---

    # Primes

    ## User · 2026-11-29 06:33:52 UTC     one section per message, for people
    <!-- phidesk {"role": "user", "created": "…", "lines": 2, …} -->   the exact facts

    the message, verbatim, over exactly `lines` lines

The comment line under each heading is authoritative (role, exact times, status, how many lines
the content spans, whether it ended without a newline, how many closing lines PhiDesk added).
Content is never escaped or re-wrapped; a message that leaves a code fence or an HTML block open
gets one closing line after it (counted in the comment, dropped on import), so it cannot swallow
the sections after it in any Markdown viewer. Because the importer reads by line counts, content
lines that look like front matter, headings or comments are just content.

With `all_branches`, every version of a chat's messages (a tree) is written in format 2: each
message's comment also holds its number `n` (its place in the file) and its `parent`'s number,
and the front matter names the `active_leaf`; a chat that is one path is written in format 1 as
without it. Format 1 files read back as one path (no parents, no active leaf). A chat with
attached files is written in format 2 too: each file's extracted text in a fenced block under
its message, with its name and SHA-256; a .zip also holds the original bytes (`originals`).

export → import → export gives the same bytes, for the same options and `exported_at`, when the
chat gets its exported id back (an imported chat gets the next free id; `import_files` adds
chats in the order of their exported ids, so chats 1 to N restored into a new database do).

For the window (all blocking: run them off the GUI thread for many chats):
    export_chat_markdown(db, chat_id, include_thinking=True, include_provenance=False,
                         all_branches=False) -> str
        one chat as text: "Copy chat as Markdown", or a save dialog offering
        suggested_file_name(chat)
    export_chats(db, chat_ids, destination, include_thinking=, include_provenance=,
                 all_branches=) -> [Path]
        a folder, a .zip, or one .md, chosen by the destination's suffix
    import_markdown(db, text, source=...) -> Chat
    import_files(db, paths) -> Imported: the chats added (a list), `.skipped` (imported
        before), `.summary()` ("Imported 3 chats (2 already there)."); .md files or .zip
        archives, all read and checked first, then stored all or nothing, each chat once
Errors are `TransferError`s (`NotAnExport`, `DamagedExport`), `NotFound` for a missing chat:
`PhiDeskError`s whose message is one sentence naming the file.

The package, one concern a module:
    markers   the format versions and the markers that make a file an export
    tree      format 2: numbering a tree of versions, and checking a file's tree
    attached  files attached to messages: their text, SHA-256 and parts under the message
    originals the original bytes of attached files in a .zip (attachments/<sha256>/<name>)
    lines     reading an export line by line, and the checks of its values
    errors    TransferError, NotAnExport, DamagedExport
    scalars   front matter values (quote, flow)
    fences    closing lines that keep a message's open blocks out of the next section
    writer    chat_to_markdown, export_chat_markdown
    reader    parse_markdown, ParsedExport, import_markdown
    names     file names (file_stem, unique_names, suggested_file_name)
    sources   the bytes an import reads, within bounds (sizes, ratios, zip bombs)
    files     .md files, folders and .zip archives on disk (export_chats, import_files); every
              file written whole or not at all
    comparison a comparison as one file: the figures table and each target's chat
              (comparison_to_markdown, import_comparison; see docs/export-format.md)
"""

from app.chat.transfer.errors import DamagedExport, NotAnExport, TransferError
from app.chat.transfer.fences import Closing, closing_lines

# The next three are private to `fences`; the unit tests call them directly.
from app.chat.transfer.fences import _close_for as _close_for
from app.chat.transfer.fences import _parsers as _parsers
from app.chat.transfer.fences import _plainly_closed as _plainly_closed
from app.chat.transfer.files import Imported, decode, export_chats, import_files, read_exports
from app.chat.transfer.markers import (
    FORMAT_VERSION,
    MARKER_KEY,
    META_PREFIX,
    META_SUFFIX,
    NEWEST_FORMAT,
    TREE_FORMAT_VERSION,
)
from app.chat.transfer.names import (
    MAX_STEM_BYTES,
    MAX_STEM_CHARS,
    file_stem,
    suggested_file_name,
    unique_names,
)
from app.chat.transfer.reader import ParsedExport, import_markdown, parse_markdown
from app.chat.transfer.scalars import flow, quote
from app.chat.transfer.writer import (
    ROLE_LABELS,
    UNTITLED,
    chat_quantization,
    chat_to_markdown,
    export_chat_markdown,
)

__all__ = [
    "FORMAT_VERSION",
    "MARKER_KEY",
    "MAX_STEM_BYTES",
    "MAX_STEM_CHARS",
    "META_PREFIX",
    "META_SUFFIX",
    "NEWEST_FORMAT",
    "ROLE_LABELS",
    "TREE_FORMAT_VERSION",
    "UNTITLED",
    "Closing",
    "DamagedExport",
    "Imported",
    "NotAnExport",
    "ParsedExport",
    "TransferError",
    "chat_quantization",
    "chat_to_markdown",
    "closing_lines",
    "decode",
    "export_chat_markdown",
    "export_chats",
    "file_stem",
    "flow",
    "import_files",
    "import_markdown",
    "parse_markdown",
    "quote",
    "read_exports",
    "suggested_file_name",
    "unique_names",
]
