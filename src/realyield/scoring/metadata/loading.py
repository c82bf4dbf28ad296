"""Loading the facts tables: from a given file, or the packaged ones (parsed once, cached).

The packaged tables are read through ``importlib.resources`` and cached, so the lookups
can be called for every opportunity; the returned mappings are read-only views so that
no caller can alter the shared cache.

Raises:
    DataError: a missing or unreadable file, or a malformed table (``RecordError`` names
        the file, the row and the field).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from realyield.core.errors import DataError
from realyield.scoring.metadata.parsing import (
    CHAINS_FILE,
    PROTOCOLS_FILE,
    TOKENS_FILE,
    parse_chains,
    parse_protocols,
    parse_tokens,
)
from realyield.scoring.metadata.records import ChainFacts, ProtocolFacts, TokenFacts


def _read(path: Path | None, packaged: str) -> tuple[io.StringIO, str]:
    if path is None:
        resource = resources.files("realyield").joinpath("data", packaged)
        try:
            text = resource.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"packaged {packaged} is missing ({exc}); reinstall realyield") from exc
        return io.StringIO(text, newline=""), packaged
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the facts table ({exc})") from exc
    return io.StringIO(text, newline=""), path.name


@functools.lru_cache(maxsize=1)
def _packaged_protocols() -> Mapping[str, ProtocolFacts]:
    lines, name = _read(None, PROTOCOLS_FILE)
    return MappingProxyType(parse_protocols(lines, name=name))


@functools.lru_cache(maxsize=1)
def _packaged_chains() -> Mapping[str, ChainFacts]:
    lines, name = _read(None, CHAINS_FILE)
    return MappingProxyType(parse_chains(lines, name=name))


@functools.lru_cache(maxsize=1)
def _packaged_tokens() -> Mapping[str, TokenFacts]:
    lines, name = _read(None, TOKENS_FILE)
    return MappingProxyType(parse_tokens(lines, name=name))


def load_protocols(path: Path | None = None) -> Mapping[str, ProtocolFacts]:
    """The protocols table keyed by slug: ``path``, or the packaged table (parsed once).

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed
            (``RecordError`` names the file, the row and the field).
    """
    if path is None:
        return _packaged_protocols()
    lines, name = _read(path, PROTOCOLS_FILE)
    return MappingProxyType(parse_protocols(lines, name=name))


def load_chains(path: Path | None = None) -> Mapping[str, ChainFacts]:
    """The chains table keyed by lower-case name: ``path``, or the packaged table.

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed.
    """
    if path is None:
        return _packaged_chains()
    lines, name = _read(path, CHAINS_FILE)
    return MappingProxyType(parse_chains(lines, name=name))


def load_tokens(path: Path | None = None) -> Mapping[str, TokenFacts]:
    """The tokens table keyed by upper-case symbol: ``path``, or the packaged table.

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed.
    """
    if path is None:
        return _packaged_tokens()
    lines, name = _read(path, TOKENS_FILE)
    return MappingProxyType(parse_tokens(lines, name=name))
