"""The artifact types of the user guide and the extensions each keeps.

The table is the user guide's "File Extensions" table, verbatim. Matching is case-insensitive because
Windows workstations produce ``REPORT.HTML`` as readily as ``report.html``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import ArtifactTypeUnknownError


@dataclass(frozen=True)
class ArtifactType:
    """One artifact type: its name, what it is for, and the extensions it keeps."""

    name: str
    description: str
    extensions: frozenset[str]
    #: Directory suffixes whose whole content belongs to the type (a File Geodatabase is a folder).
    container_extensions: frozenset[str] = frozenset()

    def allows(self, relative_path: str) -> bool:
        """Whether a file at ``relative_path`` (POSIX, relative to the type's folder) is kept.

        A file is kept when its own extension is listed, or when it lives inside a folder whose
        suffix is a container extension (``centerline.gdb/a00000001.gdbtable``), because a
        geodatabase is only usable whole.
        """
        parts = relative_path.split("/")
        if _suffix(parts[-1]) in self.extensions:
            return True
        return any(_suffix(p) in self.container_extensions for p in parts[:-1])


def _suffix(name: str) -> str:
    """The lower-cased extension as ``PurePosixPath(name).suffix`` defines it ("" for ``.bashrc``
    or ``name.``), without building a path object: this runs for every file of every run."""
    i = name.rfind(".")
    return name[i:].lower() if 0 < i < len(name) - 1 else ""


ARTIFACT_TYPES: dict[str, ArtifactType] = {
    t.name: t
    for t in (
        ArtifactType(
            "config",
            "The config.yaml used for the run",
            frozenset({".yaml", ".yml", ".json", ".txt"}),
        ),
        ArtifactType(
            "logs",
            "All log files generated during processing",
            frozenset({".txt", ".log", ".csv", ".args"}),
        ),
        ArtifactType(
            "report",
            "HTML reports, JSON data and their assets",
            frozenset({".html", ".json", ".png", ".jpg", ".jpeg", ".pdf"}),
        ),
        ArtifactType(
            "gis_data",
            "GIS reference data used during processing",
            frozenset(
                {
                    ".shp", ".shx", ".dbf", ".prj", ".cpg", ".sbn", ".sbx", ".xml",
                    ".geojson", ".json", ".kml", ".kmz", ".gdb", ".gpkg",
                }
            ),
            container_extensions=frozenset({".gdb"}),
        ),
    )
}

#: The user guide's default for ``orchestrator.artifact_types``.
DEFAULT_ARTIFACT_TYPES: tuple[str, ...] = ("config", "logs", "report")


def get_artifact_type(name: str) -> ArtifactType:
    """Look a type up by name, with an error that lists the valid choices."""
    try:
        return ARTIFACT_TYPES[name]
    except (KeyError, TypeError):
        choices = ", ".join(ARTIFACT_TYPES)
        raise ArtifactTypeUnknownError(
            f"unknown artifact type {name!r}: choose from {choices}"
        ) from None
