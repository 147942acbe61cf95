"""The filer function's environment, defined once for the CDK construct and the local stack."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from artifact_filer import FilerConfig, FilerConfigError, filer_environment
from artifact_filer import handler as handler_module


def test_the_environment_is_what_the_filer_reads():
    env = filer_environment(staging_bucket="s", archive_bucket="a", concurrency=3, reuse_max_age_days=30,
                            put_client="botocore")
    assert env["STAGING_BUCKET"] == "s"
    assert env["ARCHIVE_BUCKET"] == "a"
    assert env["POWERTOOLS_SERVICE_NAME"] == handler_module.SERVICE
    config = FilerConfig.from_environ(env)
    assert (config.concurrency, config.reuse_max_age_days, config.put_client) == (3, 30, "botocore")
    defaults = filer_environment(staging_bucket="s", archive_bucket="a")
    assert FilerConfig.from_environ(defaults) == FilerConfig()


def test_an_unknown_setting_is_refused():
    with pytest.raises(FilerConfigError, match="on_step"):
        filer_environment(staging_bucket="s", archive_bucket="a", on_step=1)


def test_the_config_module_needs_the_standard_library_and_the_contract_only():
    """The CDK app imports it to set the function's environment, without the filer's runtime."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import artifact_filer.config\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(' '.join(sorted(new - set(sys.stdlib_module_names))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, check=True)
    assert set(done.stdout.split()) <= {"artifact_contract", "artifact_filer"}
