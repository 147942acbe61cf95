"""The client's version, in one place for the package, the CLI and the manifest's uploader field."""

__version__ = "0.1.0"
