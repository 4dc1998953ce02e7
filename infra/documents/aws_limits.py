"""Values AWS APIs accept, as documented; StackConfig checks the config keys against them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
    731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _steps(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html
FARGATE_PAIRS: Final[Mapping[int, tuple[int, ...]]] = {
    256: (512, 1024, 2048),
    512: _steps(1024, 4096, 1024),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}

# MonitoringInterval's allowed values:
# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
DB_MONITORING_INTERVALS: Final = (0, 1, 5, 10, 15, 30, 60)
