"""The manifest's schema versions and the bounds a reader holds every manifest to.

Apart from :mod:`.manifest` so that its reader (:mod:`.manifest_json`) and its checks
(:mod:`.manifest_checks`) share them without importing the manifest itself.
"""

MANIFEST_SCHEMA = "artifact-backup.manifest"
#: The newest version this package writes and reads. Version 2 adds files that travel by reuse
#: (``piece`` null, ``reuse`` set); version 3 adds blobs named by their file rather than their
#: content (:func:`blob_slot_id`). A manifest is written as the oldest version that can say what it
#: says, so a filer that predates a feature keeps accepting every run that does not use it.
MANIFEST_VERSION = 3
#: Every version :meth:`Manifest.from_json` accepts.
MANIFEST_VERSIONS = (1, 2, 3)
#: The version that introduced reuse references.
REUSE_MANIFEST_VERSION = 2
#: The version that introduced blobs named by their file (sent while being hashed).
SLOT_MANIFEST_VERSION = 3
#: Larger manifests are refused unread. A file's entry is about 200 bytes with a short path and
#: about 1.2 KB with a path near S3's 1,024-byte key limit, so MAX_FILES entries of such paths fit
#: (the filer copies the body to /tmp; it is never held in memory).
MAX_MANIFEST_BYTES = 256 * 1024 * 1024
MAX_FILES = 200_000
#: The largest file that may travel in a pack. The filer holds each packed file in memory once on
#: its way to its put, so it refuses larger ones; the client must send them as blobs and so may not
#: set its pack threshold above this.
MAX_PACKED_FILE_BYTES = 128 * 1024 * 1024
#: Bounds on the free-text fields, which are copied into the claim and the run record.
MAX_UPLOADER_ENTRIES = 32
MAX_TEXT_LENGTH = 256
#: One entry of ``files`` or ``pieces`` longer than this (in characters) is refused rather than read
#: further: a valid one is a few kilobytes at most, even with every character escaped.
MAX_ENTRY_CHARS = 1024 * 1024
