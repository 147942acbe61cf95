"""The embedded S3 server between tests, and the one filer the Lambda handler holds.

The handler caches one filer per process, as one Lambda execution environment does; a fixture that
installs its own (or clears it) must put back what was there, or a later test's stack files its
runs with the wrong filer.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from artifact_backup.local import LocalStack, provision


def reset_server(endpoint_url: str) -> None:
    """Wipe the embedded server's state (moto's reset API)."""
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def reset_stack(endpoint_url: str) -> LocalStack:
    """Wipe the embedded server and provision it again, as the CDK stack would be."""
    reset_server(endpoint_url)
    return provision(endpoint_url)


@contextmanager
def swapped_filer(filer: Any = None) -> Iterator[Any]:
    """Install ``filer`` in the handler (by default none: the next event builds one from the
    environment), and put back the one it replaced on the way out; yields that one."""
    from artifact_filer import handler

    previous = handler.reset_filer(filer)
    try:
        yield previous
    finally:
        handler.reset_filer(previous)


def installed_filer() -> Any:
    """The filer the handler holds now (``None`` if it would build one), leaving it in place."""
    from artifact_filer import handler

    current = handler.reset_filer()
    handler.reset_filer(current)
    return current
