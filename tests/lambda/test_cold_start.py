"""The cold-start benchmark (bench/cold_start.py): statistics and one tiny real run."""

from __future__ import annotations

import pytest

from bench import cold_start


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 11)]  # 1..10
    assert cold_start.percentile(values, 50) == pytest.approx(5.5)
    assert cold_start.percentile(values, 90) == pytest.approx(9.1)
    assert cold_start.percentile(values, 100) == 10.0
    assert cold_start.percentile([3.0], 90) == 3.0
    with pytest.raises(ValueError, match="no samples"):
        cold_start.percentile([], 50)


def test_ratio_is_of_the_medians() -> None:
    result = cold_start.ColdStartResult(
        handler=cold_start.Samples("h", (1.0, 2.0, 9.0)),
        baseline=cold_start.Samples("b", (1.0, 1.0, 1.0)),
        same_work=cold_start.Samples("s", (1.0, 4.0, 4.0)),
        elapsed_seconds=1.0,
    )
    assert result.ratio == 2.0
    assert result.same_work_ratio == 0.5
    summary = result.as_dict()
    assert summary["h"]["median_ms"] == 2000.0
    assert summary["ratio_vs_bare"] == 2.0
    assert summary["ratio_vs_same_work"] == 0.5
    assert "within the 1.0x target" in cold_start.report(result)
    assert "1000-9000 ms" in cold_start.report(result)


def test_a_real_run_serves_the_event_in_both_processes() -> None:
    lines: list[str] = []
    result = cold_start.measure_cold_start(1, progress=lines.append)
    assert len(result.handler.seconds) == len(result.baseline.seconds) == 1
    assert all(0 < s < cold_start.SAMPLE_TIMEOUT_SECONDS for s in result.handler.seconds)
    assert result.ratio > 0
    assert len(lines) == 1


def test_a_failing_handler_is_reported_not_timed() -> None:
    with pytest.raises(cold_start.BenchmarkError, match="no_such_module"):
        cold_start.measure_cold_start(1, handler_module="no_such_module")


def test_the_command_line_asks_for_enough_samples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cold_start.main(["--samples", "3"])
    assert "at least 15" in capsys.readouterr().err
