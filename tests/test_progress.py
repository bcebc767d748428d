"""Progress off a terminal: plain periodic lines with rate and ETA, not a bar drawn at the end."""

from __future__ import annotations

import io

from rich.console import Console

from desivoid_ml.progress import LineReporter, RichReporter


def test_line_reporter_prints_rate_and_eta() -> None:
    stream = io.StringIO()
    with LineReporter(stream, interval_s=0) as reporter, reporter.task("ingest", 1000) as step:
        step.advance(250)
        step.advance(250)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ingest: started (1,000 rows)"
    assert lines[1].startswith("ingest: 250/1,000 rows (25%), ") and "rows/s" in lines[1]
    assert "ETA " in lines[1]
    assert lines[-1].startswith("ingest: 500/1,000 rows (50%)") and lines[-1].endswith("(done)")


def test_interval_limits_the_lines() -> None:
    stream = io.StringIO()
    with LineReporter(stream, interval_s=3600) as reporter, reporter.task("x", 10) as step:
        for _ in range(10):
            step.advance(1)
    assert len(stream.getvalue().splitlines()) == 2  # started + done


def test_rich_reporter_falls_back_to_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=False)
    with RichReporter(console) as reporter, reporter.task("features", 4) as step:
        step.advance(4)
    text = stream.getvalue()
    assert "features: started (4 rows)" in text and "4/4 rows (100%)" in text
    assert "━" not in text  # no bar characters
