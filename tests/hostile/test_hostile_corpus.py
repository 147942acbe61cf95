"""Every hostile input of the corpus is refused before anything reaches the archive.

For each case: no archive key at all, a refused receipt with the expected code, the staging objects
moved to quarantine (or, when the key itself breaks the layout, left where they are), the message in
the dead-letter queue, and the reason logged with the run's identity.
"""

from __future__ import annotations

import pytest

from artifact_contract import quarantine_key

from .corpus import CASES

pytestmark = pytest.mark.integration


def test_corpus_is_large_and_distinct():
    names = [c.name for c in CASES]
    assert len(names) >= 30
    assert len(set(names)) == len(names)


def test_nothing_reaches_the_archive(corpus):
    assert corpus.archive_keys == []


def test_the_filer_s_memory_stays_bounded_over_the_whole_corpus(corpus, capsys):
    from .conftest import MAX_PEAK_RSS_BYTES

    peak = corpus.peak_rss_bytes
    with capsys.disabled():
        print(f"\nhostile corpus: the filer's peak resident memory was {peak / 2**20:.0f} MiB "
              f"over {len(CASES)} cases (bound {MAX_PEAK_RSS_BYTES / 2**20:.0f} MiB)")
    assert 0 < peak < MAX_PEAK_RSS_BYTES


def test_corpus_settles_quickly(corpus):
    # Most of it is the filer reading the 100,000-file runs of corpus_bounds, each in a few seconds.
    assert corpus.seconds < 120, f"the corpus took {corpus.seconds:.1f} s to reach the dead-letter queue"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_hostile_input_is_refused(corpus, case):
    outcome = corpus.outcomes[case.name]
    staged = outcome.staged
    assert outcome.dead_lettered, "the message did not reach the dead-letter queue"
    if case.code is None:
        # The key names no run a receipt could be written for: logged, dead-lettered, left in place.
        assert outcome.staging_after == {k: len(b) for k, b in staged.objects.items()}
        assert any(line["message"] == "manifest key refused, no receipt possible"
                   and line["key"] == staged.manifest_key for line in outcome.log_lines)
        return
    assert outcome.receipt is not None, "no receipt"
    assert outcome.receipt["status"] == "refused"
    assert outcome.receipt["code"] == case.code, outcome.receipt["reason"]
    assert 0 < len(outcome.receipt["reason"]) < 1100, "the reason should be short enough to read"
    assert outcome.staging_after == {}, "staging objects were left outside quarantine"
    assert outcome.quarantine_after == {quarantine_key(k): len(b) for k, b in staged.objects.items()}
    refused = [line for line in outcome.log_lines if line["message"] == "run refused"]
    assert refused, "the refusal was not logged"
    line = refused[0]
    assert line["level"] == "WARNING"
    assert (line["project_key"], line["run_id"], line["code"]) == (outcome.project, outcome.run_id, case.code)
    assert line["reason"] == outcome.receipt["reason"]


def test_an_honest_run_is_still_filed_after_the_corpus(corpus):
    """The refusals above are the filer judging each input, not a filer that refuses everything."""
    import json
    import time
    import uuid

    from artifact_contract import receipt_key

    from .corpus import FILES, _honest, _stage

    s3 = corpus.stack.client("s3")
    names = corpus.stack.names
    run_id = uuid.uuid4().hex
    project = f"honest-{run_id[:6]}"
    manifest, pieces = _honest(project, run_id, names.archive_bucket)
    staged = _stage(project, run_id, manifest, pieces)
    for key, body in staged.objects.items():
        s3.put_object(Bucket=names.staging_bucket, Key=key, Body=body)
    deadline = time.monotonic() + 30
    receipt = None
    while receipt is None and time.monotonic() < deadline:
        try:
            raw = s3.get_object(Bucket=names.staging_bucket, Key=receipt_key(project, run_id))["Body"].read()
            receipt = json.loads(raw)
        except s3.exceptions.NoSuchKey:
            time.sleep(0.2)
    assert receipt is not None
    assert receipt["status"] == "filed"
    assert receipt["files"] == len(FILES)
