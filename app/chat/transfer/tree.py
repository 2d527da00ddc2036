"""Every version of a chat in one file (format 2): how messages are numbered and refer to their
parents, and the checks that a file's tree holds together.

In format 2 each message is numbered by its place in the file (1 = first) and names the number
of the message it follows (`parent`, left out for a first message); a parent always comes before
its children. The front matter names the last message of the active path (`active_leaf`). A chat
whose messages are one path ending at its active leaf needs none of this and is written in
format 1, byte for byte as without `all_branches`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.store import Chat, Message


@dataclass(frozen=True, slots=True)
class Numbering:
    """Where the messages of a tree go in a format 2 file, in the order given."""

    parents: tuple[int | None, ...]
    """For each message, its parent's number (None for a first message)."""
    active: int
    """The number of the active leaf."""

    def versions(self) -> list[tuple[int, int]]:
        """For each message: which version it is among its siblings (from 1), and of how many."""
        groups: dict[int | None, list[int]] = {}
        for number, parent in enumerate(self.parents, start=1):
            groups.setdefault(parent, []).append(number)
        place = {n: (i, len(g)) for g in groups.values() for i, n in enumerate(g, start=1)}
        return [place[n] for n in range(1, len(self.parents) + 1)]

    def path(self) -> list[int]:
        return active_path(self.active, self.parents)


def is_one_path(chat: Chat, messages: Sequence[Message]) -> bool:
    """True when `messages` are one path that ends at the chat's active leaf: what format 1
    says. As for `Database.import_chats`, a chat that names no active leaf with messages that
    name no parent is one path in order (records from before versions)."""
    if chat.active_leaf_id is None and all(m.parent_id is None for m in messages):
        return True
    previous: int | None = None
    for message in messages:
        if message.parent_id != previous:
            return False
        previous = message.id
    return chat.active_leaf_id == previous


def numbering(chat: Chat, messages: Sequence[Message]) -> Numbering | None:
    """The numbering of a tree of messages (parents before children, as the store lists them),
    or None when they are one path and format 1 holds them."""
    if is_one_path(chat, messages):
        return None
    numbers = {message.id: n for n, message in enumerate(messages, start=1)}
    # A parent outside `messages` cannot happen (hiding a message hides what follows it); the
    # message would then start a path of its own.
    parents = tuple(None if m.parent_id is None else numbers.get(m.parent_id) for m in messages)
    # A chat that names no active leaf shows its last message, as an import of it would.
    active = numbers.get(chat.active_leaf_id or 0, len(messages))
    return Numbering(parents, active)


def active_path(leaf: int | None, parents: Sequence[int | None]) -> list[int]:
    """The numbers of the path ending at message number `leaf`, first message first. `parents`
    must hold no cycle (see `tree_problem`)."""
    path: list[int] = []
    while leaf is not None:
        path.append(leaf)
        leaf = parents[leaf - 1]
    path.reverse()
    return path


def _listed(numbers: Sequence[int]) -> str:
    shown = [str(n) for n in numbers[:5]]
    if len(numbers) > 5:
        shown[-1] = f"{len(numbers) - 4:,} more"
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def tree_problem(parents: Sequence[int | None]) -> str | None:
    """What does not hold together in a file's tree (parents given as numbers, each one of the
    file's messages), as the end of a sentence; None if it holds."""
    state = [0] * (len(parents) + 1)  # 0: not seen, 1: on the chain being followed, 2: fine
    for start in range(1, len(parents) + 1):
        chain: list[int] = []
        node: int | None = start
        while node is not None and state[node] == 0:
            state[node] = 1
            chain.append(node)
            node = parents[node - 1]
        if node is not None and state[node] == 1:
            circle = sorted(chain[chain.index(node) :])
            if len(circle) == 1:
                return f"message {circle[0]} follows itself"
            return f"messages {_listed(circle)} follow each other in a circle"
        for seen in chain:
            state[seen] = 2
    for number, parent in enumerate(parents, start=1):
        if parent is not None and parent > number:
            return f"message {number} follows message {parent}, which comes after it"
    return None
