"""Restoring the database into a new instance: the restore keys' grammar and rules.

A restore never touches the running instance (docs/runbook.md, "Restore"):
``dbRestoreSource`` creates a second instance, ``dbServing`` points the
service at it in a later, deliberate deploy, and ``dbPrimaryRetired`` deletes
the old one once nothing uses it. These are pure functions of the config
values, so every rule is testable without the Pulumi runtime.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

SNAPSHOT_PREFIX: Final = "snapshot:"
TIME_PREFIX: Final = "time:"
LATEST: Final = "latest"
SERVING: Final = ("primary", "restored")
# The Redis logical database the service uses per serving instance. Cached
# items are copies of rows: after the switch the restored instance starts on
# an empty keyspace, so no entry read from the old database is served, not
# even during the rollout (old tasks keep database 0, new ones use 1).
CACHE_DATABASES: Final = {"primary": 0, "restored": 1}

# DBSnapshotIdentifier: a manual snapshot's name, or an automated one's
# ``rds:<name>``; 1-255 letters, digits and single hyphens, starting with a
# letter, not ending with a hyphen.
_SNAPSHOT_ID = re.compile(r"^(rds:)?(?!.*--)[A-Za-z][A-Za-z0-9-]{0,254}(?<!-)$")
# A shared (or any) snapshot by ARN; RDS restores only from its own region.
_SNAPSHOT_ARN = re.compile(
    r"^arn:aws[a-z-]*:rds:(?P<region>[a-z0-9-]+):\d{12}:snapshot:(rds:)?[A-Za-z][A-Za-z0-9-]*$"
)
# RestoreTime: "Must be a time in Universal Coordinated Time (UTC) format",
# e.g. 2009-09-07T23:45:00Z (the provider parses it as RFC 3339).
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class RestoreError(ValueError):
    """A restore key is malformed or contradicts another one."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        """Remember which key, its value and what is allowed (``ConfigError`` wording)."""
        super().__init__(f"{key}={value!r}: {allowed}")
        self.key = key
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True)
class RestoreSource:
    """What the restored instance is created from: a snapshot, or the primary at a time."""

    snapshot: str | None = None
    """DBSnapshotIdentifier (a name, ``rds:<name>`` or an ARN)."""
    restore_time: str | None = None
    """RestoreTime in UTC (``2024-05-01T12:00:00Z``), or None with ``latest``."""
    latest: bool = False
    """UseLatestRestorableTime: the primary's latest restorable time at creation."""


def _is_utc_time(text: str) -> bool:
    """Whether ``text`` is a real UTC time written like 2024-05-01T12:00:00Z."""
    if not _UTC_TIME.fullmatch(text):
        return False
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:  # a day or hour that does not exist, e.g. February 30th
        return False
    return True


def parse_source(text: str, region: str) -> RestoreSource | None:
    """``dbRestoreSource`` parsed; None when empty (no restored instance)."""
    key = "dbRestoreSource"
    if not text:
        return None
    if text.startswith(SNAPSHOT_PREFIX):
        snapshot = text.removeprefix(SNAPSHOT_PREFIX)
        arn = _SNAPSHOT_ARN.fullmatch(snapshot)
        if arn is not None and arn["region"] != region:
            raise RestoreError(
                key,
                text,
                f"the snapshot is in {arn['region']} but the stack deploys to {region}; "
                f"copy it to {region} first (aws rds copy-db-snapshot)",
            )
        if arn is None and not _SNAPSHOT_ID.fullmatch(snapshot):
            raise RestoreError(
                key, text, "snapshot:<identifier> (letters, digits, single hyphens) or an ARN"
            )
        return RestoreSource(snapshot=snapshot)
    if text.startswith(TIME_PREFIX):
        moment = text.removeprefix(TIME_PREFIX)
        if moment == LATEST:
            return RestoreSource(latest=True)
        if _is_utc_time(moment):
            return RestoreSource(restore_time=moment)
        raise RestoreError(key, text, "time:<UTC time like 2024-05-01T12:00:00Z> or time:latest")
    raise RestoreError(
        key,
        text,
        "empty, snapshot:<snapshot identifier or ARN>, time:<UTC time> or time:latest",
    )


def check(source: str, serving: str, primary_retired: bool, region: str) -> RestoreSource | None:
    """The restore keys together: each step needs the one before it."""
    parsed = parse_source(source, region)
    if serving not in SERVING:
        raise RestoreError("dbServing", serving, "allowed: " + ", ".join(SERVING))
    if serving == "restored" and parsed is None:
        raise RestoreError(
            "dbServing",
            serving,
            "serving the restored instance needs dbRestoreSource (the restore, step 1)",
        )
    if primary_retired and serving != "restored":
        raise RestoreError(
            "dbPrimaryRetired",
            primary_retired,
            "retire the primary only while dbServing is 'restored' (nothing else would serve)",
        )
    return parsed


def cache_database(serving: str) -> int:
    """The Redis database index in ``REDIS_URL`` for the serving instance."""
    return CACHE_DATABASES[serving]
