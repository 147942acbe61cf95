"""Synthesize the app once per session: every template test reads the same cloud assembly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from enforced_support import Enforced, enforced_server
from infra_support import ALARM_EMAIL, IMPORTED_BUCKET, Synth, cdk_json_context, synthesize


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack exactly as `cdk synth` builds it from cdk.json."""
    return synthesize(tmp_path_factory.mktemp("cdk-default"), cdk_json_context())


@pytest.fixture(scope="session")
def imported_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The guide's deployment: the existing rmi-360-raw bucket as archive, alarms by e-mail."""
    context = {
        **cdk_json_context(),
        "importArchiveBucketName": IMPORTED_BUCKET,
        "alarmEmail": ALARM_EMAIL,
        "stackName": "ArtifactBackupImported",
    }
    return synthesize(tmp_path_factory.mktemp("cdk-imported"), context)


@pytest.fixture(scope="session")
def enforced(synth: Synth) -> Iterator[Enforced]:
    """The local S3 server enforcing the template's policies, one user per policy."""
    with enforced_server(synth) as server:
        yield server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.infra)
