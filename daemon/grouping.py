"""Who is one person: the user's merges and every address-book card join addresses into one
contact, an address the user unmerged from its card stays out of it, and each contact is
filed under a key that stays put.

Pure: the addresses and what joins them in, every address's contact key out. The key names
the contact's reminders and settings, so it moves only when it must: when addresses join,
the key is the one of the contacts that were there before which the user steered (a
cadence, tag, snooze, ignore or a merge into it), else which holds a reminder, else which
was first in touch, else the first in the cards' order. A card never picks a key of its own
over a contact keepwarm knew: a contact that gains an address from a card keeps its key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

NEVER = 2**62  # the first touch of an address never touched


def group(old: Mapping[str, str], merges: Mapping[str, str], cards: Sequence[Sequence[str]],
          apart: Collection[str], steered: Collection[str], reminded: Collection[str],
          first_touch: Mapping[str, int]) -> dict[str, str]:
    """Every address's contact key. ``old``: each known address's key now; ``merges``: the
    user's (address -> the key it joined); ``cards``: each card's addresses; ``apart``: the
    addresses the user unmerged from their cards; ``steered`` and ``reminded``: keys with
    settings or a reminder; ``first_touch``: each address's first touchpoint."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> None:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    for card in cards:
        for e in card:
            parent.setdefault(e, e)
        joined = [e for e in card if e not in apart]
        for e in joined[1:]:
            union(joined[0], e)
    for email, key in merges.items():
        union(key, email)
    for email in old:
        parent.setdefault(email, email)
    members: dict[str, list[str]] = {}
    for email in parent:  # in order: the cards' addresses first, as they list them
        members.setdefault(find(email), []).append(email)
    rank = _Rank(old, steered, reminded, first_touch, list(parent))
    keys: dict[str, str] = {}
    for group_ in members.values():
        keys.update(dict.fromkeys(group_, rank.choose(group_)))
    return keys


class _Rank:
    """Which address of a new group keys it (see the module's docstring)."""

    def __init__(self, old: Mapping[str, str], steered: Collection[str],
                 reminded: Collection[str], first_touch: Mapping[str, int],
                 order: Sequence[str]) -> None:
        self.old, self.steered, self.reminded = old, steered, reminded
        self.order = {e: n for n, e in enumerate(order)}
        # a key: its contact's first touch, by any address; another address: its own
        self.first: dict[str, int] = dict(first_touch)
        for email, key in old.items():
            at = first_touch.get(email, NEVER)
            if at < self.first.get(key, NEVER):
                self.first[key] = at

    def choose(self, group: Sequence[str]) -> str:
        if len(group) == 1:
            return group[0]
        # the keys the group's contacts had; none (a card split off): any of its addresses
        keys = [e for e in group if self.old.get(e) == e] or list(group)
        return min(keys, key=lambda k: (k not in self.steered, k not in self.reminded,
                                         self.first.get(k, NEVER), self.order[k], k))
