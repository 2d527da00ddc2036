"""The SQLite database of chats: engine, migrations, ORM models, queries and search. No Qt.

Open / close
    db = Database.open(Paths.database)   # create or migrate; also recovers from a crash
    db = Database.open(path, readonly=True)   # for commands that only read: never writes
    Database.open(path, on_wait=print_note, busy_wait=30.0)
    db.close()  (or `with Database.open(p) as db:`)
    - `readonly=True` (listing, searching, exporting): no crash recovery and no write at all,
      so it never waits for another process's write lock; writes raise StoreError. Only a
      missing file or one of an older schema is created or upgraded first. In a folder nobody
      can write, the file is read as immutable (when it has no write-ahead log to read).
    - A lock another process holds is waited for, at open and at every later call: SQLite
      waits 2 s, then `on_wait(sentence)` is called once (from the waiting thread; the log gets
      it without `on_wait`), and the wait goes on up to `busy_wait` seconds in all before a
      StoreError says the database is busy.
    - A file of a newer PhiDesk raises `DatabaseTooNew`; a file that is not a readable PhiDesk
      database raises `DatabaseCorrupt`. Both are `PhiDeskError`s with one clear sentence, and
      the file is left byte-for-byte untouched (it is inspected read-only first).
    - Before an upgrade the file is copied with SQLite's backup API to
      `<stem>.backup-<old rev>-<UTC timestamp>.sqlite3` beside it (newest 5 kept); the path is
      `db.backup_path`. A failed upgrade is rolled back and raises `MigrationFailed`.
    - Answers left `streaming` by a writer that is gone (crashed, killed, or closed without
      finishing them) become `interrupted`; their ids are `db.interrupted_on_open`. Answers
      another live process (or another open Database) is writing are left alone: each
      Database opened for writing holds an OS lock whose token it writes on its answers in
      progress (`app.store.owners`), and the lock disappears with its process.
    - Every connection: WAL, foreign_keys=ON, busy_timeout=2 s (then `Waiting` tries again),
      synchronous=NORMAL. Writes take the lock up front (BEGIN IMMEDIATE), so two processes on
      one file wait for each other instead of failing or corrupting anything.
    - Thread-safe: one engine, a session per call, so the asyncio loop thread and worker
      threads may use one Database at once. Everything returned is a frozen dataclass from
      `app.store.records`, safe to pass to another thread.
    - `db.data_version()`: SQLite's PRAGMA data_version on one connection kept for it. It
      changes when anything commits to the file on another connection (another process, or
      this Database's own pooled connections), never on reads: poll it to notice what other
      processes wrote.

Chats (`Chat`: id, title, kind, model, system_prompt, settings: ChatSettings, pinned, created_at,
updated_at, deleted_at, context: ContextUsage(used, limit), message_count)
    create_chat(title=, model=, system_prompt=, settings=ChatSettings(num_ctx, temperature, seed,
                think, keep_alive, extra), kind="normal"|"quick"|…, pinned=)
    get_chat(id)             also for chats in the trash
    update_chat(id, title=, pinned=, model=, system_prompt=, settings=, kind=, context=, touch=)
    list_chats(kind=None, deleted=False, limit=None)   pinned first, then newest activity first
    delete_chat(id)          soft delete: to the trash (hidden from list_chats and search)
    restore_chat(id)         undo of delete_chat
    purge_deleted_chats(older_than=timedelta(0)) / delete_chat_permanently(id)  (cascade)

Messages (`Message`: id, chat_id, role, content, thinking, status, error, created_at,
updated_at, stats: ChatStats | None (app.values), provenance: Provenance | None, parent_id)
    A chat is a tree (`app.store.tree`): each message follows its parent; siblings are
    versions (a regenerated answer, an edited question). The chat shows the path ending at
    its `active_leaf_id`; `message_count` and the context meter are that path's.
    add_message(chat_id, role, content, thinking=, status=, error=, parent_id=)   committed on
        return, and made the active leaf; by default it follows the active leaf, `parent_id`
        (None: a first message) makes it a new version beside that parent's other children
    add_turn(chat_id, question, title=None, answer=True)   the question after the active leaf,
        the chat's title and the answer's streaming row: one transaction (a send's one commit)
    update_streaming(message_id, content, thinking)    one UPDATE, fine every ~0.5 s
    finish_message(message_id, status=, content=, thinking=, error=, stats=, provenance=,
                   context_limit=)   also sets the chat's context meter from the stats
    get_message(id), path_to(id), latest_messages(chat_id, limit=200, before=None),
    messages(chat_id) (the active path), all_messages(chat_id) (every version)
    versions(chat_id) -> {message id: Versions(ids, index)}, branch_points(chat_ids=None)
    show_version(id) (the path through it, down its newest versions), show_message(id)
    delete_message(id) -> DeletedMessages (hides the subtree; purged with the trash),
    restore_messages(deleted), discard_message(id) (a refused question, gone for good)
    Provenance: model, model_digest, quantization, requested_num_ctx, effective_num_ctx,
    gpu_percent, options (dict), ollama_version, tokens_per_second, excluded_message_ids,
    warning.

Import (`app.store.importing`)
    import_chats(items: Iterable[(Chat, Sequence[Message])], batch_size=50) -> ImportResult(
        added: list[Chat], skipped: list[Chat])   all-or-nothing and only once: chats are
        staged in short transactions (shown nowhere until the last one unmarks them all), an
        exception or a killed process leaves nothing visible (the next writer removes what a
        dead import staged), and a chat whose exported id and creation time (its origin) match
        a chat imported before is skipped. Imported chats always get new ids.
    import_chat(chat, messages) -> Chat   the same for one chat (the existing one if skipped)

Presets (system prompts): create_preset(name, text), list_presets(), get_preset(id),
update_preset(id, name=, text=), delete_preset(id). Names are unique (`DuplicateName`).

Search: search(query, limit=50, chat_id=None) -> list[SearchHit]: FTS5 over message content,
newest first, chats in the trash left out. Any input is safe (`C++`, `"`, `AND`, `*`, `NEAR(`,
emoji, empty): each word is searched as quoted text, the last as a prefix. A hit carries the
plain `snippet`, `highlights` as (start, end) offsets into it, and `snippet_html`: the snippet
HTML-escaped with each match wrapped in <mark>…</mark>.

Errors (all `PhiDeskError`): StoreError, DatabaseTooNew, DatabaseCorrupt, MigrationFailed,
NotFound, DuplicateName. A busy file, a full disk (ENOSPC, or EFBIG at a file-size limit), a
disk error and an unwritable folder each become their own StoreError sentence
(`app.store.failures`); only a file that is not a database is `DatabaseCorrupt`, and its advice
names a backup only when one exists.
"""

from app.store.database import UNSET, Database
from app.store.errors import (
    DatabaseCorrupt,
    DatabaseTooNew,
    DuplicateName,
    MigrationFailed,
    NotFound,
    StoreError,
)
from app.store.records import (
    Chat,
    ChatSettings,
    ContextUsage,
    ImportResult,
    Message,
    Preset,
    Provenance,
    Role,
    SearchHit,
    Status,
)

__all__ = [
    "UNSET",
    "Chat",
    "ChatSettings",
    "ContextUsage",
    "Database",
    "DatabaseCorrupt",
    "DatabaseTooNew",
    "DuplicateName",
    "ImportResult",
    "Message",
    "MigrationFailed",
    "NotFound",
    "Preset",
    "Provenance",
    "Role",
    "SearchHit",
    "Status",
    "StoreError",
]
