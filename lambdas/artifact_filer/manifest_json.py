"""Reading a manifest from staging with less of it in memory at once than ``Manifest.from_json``.

``Manifest.from_json(raw)`` holds the raw bytes, their decoded text and the parsed JSON together, and
the bytes stay alive while the entries are built; every entry also keeps a string of its own for its
artifact type and for the piece carrying it, the same few values repeated thousands of times. Here the
text replaces the bytes before parsing, the text is dropped once parsed, and those repeated values are
one string each. The checks are the contract's: the same size limit, decoding, duplicate-key check
and error messages as ``Manifest.from_json``, then ``Manifest.from_dict`` validates everything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from artifact_contract import MAX_MANIFEST_BYTES, Manifest, ManifestInvalidError
from artifact_contract.manifest import _unique_keys

#: Fields whose values repeat across a manifest's objects: a file's type and piece, a piece's kind.
_REPEATED = ("type", "piece", "kind")


def read_manifest(body: Any) -> Manifest:
    """Read ``body`` (a stream) to its end and parse it as ``Manifest.from_json`` would.

    Raises :class:`ManifestInvalidError` with ``Manifest.from_json``'s message for every problem.
    """
    raw = body.read()
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ManifestInvalidError(
            f"manifest is {len(raw)} bytes, more than the {MAX_MANIFEST_BYTES} allowed"
        )
    try:
        # What json.loads does with bytes, done here so the bytes can go before the parse.
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise ManifestInvalidError(f"manifest is not valid JSON: {exc}") from None
    del raw
    data = _loads(text)
    del text
    return Manifest.from_dict(data)


def _loads(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_sharing_hook())
    except ManifestInvalidError:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestInvalidError(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        # As Manifest.from_json: deep nesting is the manifest's fault, not a transient failure.
        raise ManifestInvalidError("manifest is not valid JSON: nested too deeply") from None


def _sharing_hook() -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """The contract's duplicate-key check, with the repeated values shared within one manifest."""
    shared: dict[str, str] = {}

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data = _unique_keys(pairs)
        for name in _REPEATED:
            value = data.get(name)
            if type(value) is str:
                data[name] = shared.setdefault(value, value)
        return data

    return hook
