"""The orchestrator's entry point: back up a run's artifacts once the workflow has finished.

The user guide's rules: nothing is uploaded unless ``orchestrator.upload_artifacts_to_s3`` is true
and the workflow completed successfully; the types are ``orchestrator.artifact_types``; the run is
timestamped. Reasons for not uploading come back as a result, not an exception, because they are
normal outcomes the orchestrator logs; real failures raise :class:`ArtifactBackupError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from .config import Settings, load_config
from .exceptions import SelectionEmptyError
from .journal import Journal
from .transfer import BaseSubscriber
from .upload import BackupRequest, Uploader, UploadResult

SKIP_WORKFLOW_FAILED = "workflow-failed"
SKIP_DISABLED = "disabled"
SKIP_NO_TYPES = "no-artifact-types"
SKIP_NOTHING = "nothing-to-upload"


def upload_after_workflow(
    config_path: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    workflow_succeeded: bool,
    project_key: str | None = None,
    timestamp: bool | str = True,
    wait: bool = True,
    wait_timeout: float | None = None,
    settings: Settings | None = None,
    client: Any = None,
    subscribers: Iterable[BaseSubscriber] = (),
    journal: Journal | None = None,
) -> UploadResult:
    """Upload the run's artifacts if the config asks for it and the workflow succeeded.

    :param timestamp: ``True`` stamps the run now; pass the workflow's own ``YYYYMMDD_HHMM`` to
        stamp it with the run's start instead.
    :param settings: already-loaded settings (otherwise ``config_path`` is read).
    :returns: ``status == "skipped"`` with ``reason`` one of ``workflow-failed``, ``disabled``,
        ``no-artifact-types``, ``nothing-to-upload``; else the upload's result.
    """
    if not workflow_succeeded:
        return UploadResult(
            status="skipped",
            reason=SKIP_WORKFLOW_FAILED,
            warnings=("the workflow did not complete successfully: artifacts are not uploaded",),
        )
    settings = settings or load_config(config_path)
    if not settings.upload_artifacts_to_s3:
        return UploadResult(
            status="skipped",
            reason=SKIP_DISABLED,
            warnings=("orchestrator.upload_artifacts_to_s3 is false: artifacts are not uploaded",),
        )
    if not settings.artifact_types:
        return UploadResult(
            status="skipped",
            reason=SKIP_NO_TYPES,
            warnings=("orchestrator.artifact_types is empty: nothing is uploaded",),
        )
    uploader = Uploader(settings, client=client, subscribers=subscribers, journal=journal)
    request = BackupRequest(
        folder=folder,
        project_key=project_key,
        include=None,
        timestamp=timestamp,
        config_path=config_path,
    )
    try:
        return uploader.backup(request, wait=wait, wait_timeout=wait_timeout)
    except SelectionEmptyError as exc:
        return UploadResult(
            status="skipped",
            reason=SKIP_NOTHING,
            types=settings.artifact_types,
            warnings=(exc.message, *(exc.hint.splitlines() if exc.hint else ())),
        )
