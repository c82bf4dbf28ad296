"""Readable ids: ``protocol:chain:symbol``, what a ranked table prints and ``explain``
accepts beside the source's own id.

Why: DeFiLlama's ids are UUIDs (``7e218bc2-186c-...``) that no table can show and no
user can type; a readable id names the pool. Two pools can share protocol, chain and
symbol (two fee tiers, two versions): each then gets a short suffix of its own id
(``curve-dex:ethereum:usdc-usdt#7e218bc2``), long enough to tell them apart.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from realyield.core.errors import DataError
from realyield.core.model import Opportunity

_SPACES = re.compile(r"\s+")
_SUFFIX_CHARS = re.compile(r"[^0-9a-z]")
SUFFIX_LENGTH = 8


def base_label(o: Opportunity) -> str:
    """``protocol:chain:symbol`` in lower case, spaces as dashes."""
    return _SPACES.sub("-", f"{o.protocol}:{o.chain}:{o.symbol}".strip().lower())


def _suffixes(ids: Sequence[str]) -> list[str]:
    """The shortest suffixes (at least ``SUFFIX_LENGTH`` characters of each id, letters
    and digits only) that differ between ``ids``; the whole id as a last resort."""
    clean = [_SUFFIX_CHARS.sub("", i.lower()) or i for i in ids]
    length = SUFFIX_LENGTH
    while length < max(len(c) for c in clean):
        cut = [c[:length] for c in clean]
        if len(set(cut)) == len(cut):
            return cut
        length += 4
    return list(ids)


def readable_ids(opportunities: Sequence[Opportunity]) -> list[str]:
    """One readable id per opportunity, unique within ``opportunities``.

    An id that is already its own ``protocol:chain:symbol`` (the bundled snapshot's)
    is kept as it is."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, o in enumerate(opportunities):
        groups[base_label(o)].append(i)
    out = [""] * len(opportunities)
    for base, members in groups.items():
        if len(members) == 1:
            out[members[0]] = base
            continue
        own = [opportunities[i].id for i in members]
        for i, suffix in zip(members, _suffixes(own), strict=True):
            out[i] = f"{base}#{suffix}"
    return out


def resolve(reference: str, ids: Sequence[str], labels: Sequence[str]) -> int:
    """The position of the opportunity ``reference`` names: its id, its readable id, or
    a ``protocol:chain:symbol`` or id prefix (at least 6 characters) that only it has.

    Raises:
        DataError: nothing matches, or several do (their readable ids are listed).
    """
    text = reference.strip()
    for pool in (ids, labels):
        if text in pool:
            return list(pool).index(text)
    key = text.lower()
    lowered = [label.lower() for label in labels]
    if key in lowered:
        return lowered.index(key)
    base, _, suffix = key.partition("#")
    matches = [i for i, label in enumerate(lowered) if label.split("#")[0] == base]
    if suffix:  # a suffix from a larger universe (one with stale twins): an id prefix
        matches = [i for i in matches if _SUFFIX_CHARS.sub("", ids[i].lower()).startswith(suffix)]
    if not matches and len(key) >= 6:
        matches = [i for i, ident in enumerate(ids) if ident.lower().startswith(key)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(labels[i] for i in matches[:10])
        raise DataError(f"{reference!r} names {len(matches)} opportunities: {shown}; use one")
    raise DataError(
        f"no opportunity {reference!r} in the scored universe; `realyield screen --all` "
        "lists readable ids (protocol:chain:symbol), `realyield universe --json` the ids"
    )
