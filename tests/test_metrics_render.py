"""/metrics' text: histograms cumulative up to +Inf, labels escaped, a gauge with
nothing to tell yet left out (pure: no server)."""

from __future__ import annotations

from laneserver.histogram import Histogram
from laneserver.server.metrics import Metrics


def test_histograms_labels_and_absent_gauges():
    metrics = Metrics()
    for seconds in (0.0004, 0.003, 0.003, 2.0, 100.0):
        metrics.observe("scan", seconds)
    batches = Histogram((1, 2, 4))
    batches.observe(1)
    batches.observe(3)
    metrics.histograms["journal_batch_size"] = ("Units per transaction.", lambda: batches)
    metrics.labelled["mailbox_depth"] = ("Waiting.", ("actor",), lambda: {'lane:"1"\n': 2})
    metrics.gauges["backup_age_seconds"] = lambda: None
    text = metrics.render()
    lines = text.splitlines()
    scan = [line for line in lines if line.startswith('laneserver_request_seconds_bucket{verb="scan"')]
    counts = [int(line.rsplit(" ", 1)[1]) for line in scan]
    assert counts == sorted(counts) and counts[0] == 1 and scan[-1].endswith('le="+Inf"} 5')
    assert 'laneserver_request_seconds_bucket{verb="scan",le="0.005"} 3' in lines
    assert 'laneserver_request_seconds_count{verb="scan"} 5' in lines
    assert "# TYPE laneserver_request_seconds histogram" in lines
    assert 'laneserver_journal_batch_size_bucket{le="1"} 1' in lines
    assert 'laneserver_journal_batch_size_bucket{le="4"} 2' in lines
    assert "laneserver_journal_batch_size_sum 4.0" in lines
    assert 'laneserver_mailbox_depth{actor="lane:\\"1\\"\\n"} 2' in lines
    assert "backup_age_seconds" not in text
