"""The manifest's JSON, read one value at a time (:class:`Walk`), so that a manifest of 200,000 files
is never held in memory; what it decodes is exactly what ``json.loads`` would make of it."""

from __future__ import annotations

import codecs
import json
import re
from typing import IO, Any

from .exceptions import ManifestInvalidError
from .manifest_limits import MAX_ENTRY_CHARS, MAX_FILES

CHUNK = 64 * 1024
_WHITESPACE = re.compile(r"[ \t\n\r]*")
#: Fields whose values repeat across a manifest's objects: a file's type and piece, a piece's kind.
_REPEATED = ("type", "piece", "kind")


def _invalid(message: str) -> ManifestInvalidError:
    return ManifestInvalidError(f"manifest is not valid JSON: {message}")


class _Text:
    """The manifest's text, decoded from its bytes as it is read, as ``json.loads`` decodes bytes
    (the encoding told by the first bytes, surrogates passed through to be refused later)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        first = b""
        while len(first) < 4 and (more := stream.read(4 - len(first))):
            first += more
        self._decoder = codecs.getincrementaldecoder(json.detect_encoding(first))("surrogatepass")
        self.buf = ""
        self.pos = 0
        #: Characters dropped from the front of ``buf``, for error positions.
        self.offset = 0
        self.eof = False
        self._feed(first)

    def _feed(self, data: bytes, final: bool = False) -> None:
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError as exc:
            raise _invalid(str(exc)) from None
        if self.pos:
            self.offset += self.pos
            self.buf = self.buf[self.pos:] + text
            self.pos = 0
        else:
            self.buf += text

    def more(self) -> bool:
        """Read more text; False at the end. Reads grow with what is waiting, so a long value is
        read in as many steps as the doublings of its length."""
        if self.eof:
            return False
        data = self._stream.read(max(CHUNK, len(self.buf) - self.pos))
        if not data:
            self.eof = True
            self._feed(b"", final=True)
        else:
            self._feed(data)
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end), not consumed."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos] if self.pos < len(self.buf) else ""

    def error(self, message: str) -> ManifestInvalidError:
        return _invalid(f"{message}: char {self.offset + self.pos}")


def _shared_hook() -> Any:
    shared: dict[str, str] = {}

    def unique_and_shared(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data = unique_keys(pairs)
        for name in _REPEATED:
            value = data.get(name)
            if type(value) is str:
                data[name] = shared.setdefault(value, value)
        return data

    return unique_and_shared


class Walk:
    """One pass over a manifest's JSON: the top-level object's members one by one, the ``files``
    array's entries one at a time (to ``on_file``, or only counted), everything else whole."""

    def __init__(self, stream: IO[bytes], max_pieces: int = MAX_FILES) -> None:
        self.text = _Text(stream)
        self.max_pieces = max_pieces
        self._decoder = json.JSONDecoder(object_pairs_hook=_shared_hook())

    def value(self) -> Any:
        """The next JSON value, decoded whole; at most :data:`MAX_ENTRY_CHARS` are read for it."""
        text = self.text
        text.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(text.buf, text.pos)
            except json.JSONDecodeError as exc:
                waiting = len(text.buf) - text.pos
                if waiting <= MAX_ENTRY_CHARS and text.more():
                    continue
                longer = (f" (or a value longer than {MAX_ENTRY_CHARS} characters)"
                          if waiting > MAX_ENTRY_CHARS else "")
                raise _invalid(f"{exc.msg}: char {text.offset + exc.pos}{longer}") from None
            except RecursionError:
                # json's C scanner recurses per nesting level: a few kilobytes of brackets would
                # otherwise escape as a RecursionError, which the filer treats as a transient failure.
                raise _invalid("nested too deeply") from None
            if end == len(text.buf) and text.more():
                continue  # a number at the end of what was read may go on ("12" of "123")
            text.pos = end
            return value

    def run(self, on_file: Any) -> tuple[Any, int]:
        """Walk the whole manifest: its members but ``files`` and how many files it lists.

        A manifest that is not an object is read whole, as ``json.loads`` would, to say so.
        """
        text = self.text
        if text.peek() != "{":
            value = self.value()
            self._end()
            return value, 0
        text.pos += 1
        head: dict[str, Any] = {}
        count = 0
        if text.peek() == "}":
            text.pos += 1
        else:
            while True:
                if text.peek() != '"':
                    raise text.error("Expecting property name enclosed in double quotes")
                key = self.value()
                if key in head:
                    raise ManifestInvalidError(f"manifest names the key {key!r} twice in one object")
                if text.peek() != ":":
                    raise text.error("Expecting ':' delimiter")
                text.pos += 1
                if key == "files" and text.peek() == "[":
                    count = self._array(on_file)
                    head[key] = LISTED
                elif key == "pieces" and text.peek() == "[":
                    head[key] = pieces = []
                    self._array(lambda i, piece, into=pieces: self._piece(i, piece, into))
                else:
                    head[key] = self.value()
                following = text.peek()
                text.pos += 1
                if following == "}":
                    break
                if following != ",":
                    text.pos -= 1
                    raise text.error("Expecting ',' delimiter")
        self._end()
        return head, count

    def _piece(self, index: int, piece: Any, into: list[Any]) -> None:
        """Keep a piece unless it is one too many: pieces are held, so their number is bounded."""
        if index >= self.max_pieces:
            raise ManifestInvalidError(
                f"manifest lists more than {self.max_pieces} pieces: a run needs at most one per file"
            )
        into.append(piece)

    def _array(self, on_item: Any) -> int:
        """Walk an array whose ``[`` is next, one item at a time; how many items it holds."""
        text = self.text
        text.pos += 1  # the "["
        if text.peek() == "]":
            text.pos += 1
            return 0
        count = 0
        while True:
            item = self.value()
            if on_item is not None:
                on_item(count, item)
            count += 1
            following = text.peek()
            text.pos += 1
            if following == "]":
                return count
            if following != ",":
                text.pos -= 1
                raise text.error("Expecting ',' delimiter")

    def _end(self) -> None:
        if self.text.peek() != "":
            raise self.text.error("Extra data")


class _Listed:
    """Stands for the ``files`` array while the head is checked: it was walked, not kept."""

    def __repr__(self) -> str:
        return "<files>"


LISTED = _Listed()


def compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse an object that names a key twice: JSON parsers disagree on which value wins, so such a
    manifest could mean one run to one reader and another run to the next."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ManifestInvalidError(f"manifest names the key {key!r} twice in one object")
        data[key] = value
    return data
