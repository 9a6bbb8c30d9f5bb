"""The scheduled jobs: materialize scores (decay) and delete what scored out (cleanup).

Both only apply what the score function already says at the run's scheduled instant, so
running a job twice, late, or not at all never changes what the API answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engagement.domain.linear import LINEAR, LinearProfile
from engagement.domain.ports import AggregateMaintainer
from engagement.domain.timefmt import to_ms

SCORE_DECIMALS = 6
CLEANUP_BELOW_SCORE = 0.01
CLEANUP_MIN_IDLE_DAYS = 90


@dataclass
class DecayReport:
    examined: int = 0
    written: int = 0
    unchanged: int = 0
    """Items whose score rounds to what is stored (in practice: decayed to 0)."""
    already_done: int = 0
    """Items this run (or a later one) had already materialized."""
    raced: int = 0
    """Writes refused because the item changed or went between the read and the write."""


@dataclass
class CleanupReport:
    examined: int = 0
    deleted: int = 0
    kept: int = 0
    raced: int = 0
    """Candidates that received an event between the read and the delete, and so were kept."""


def materialize_scores(
    store: AggregateMaintainer, run_at: datetime, profile: LinearProfile = LINEAR
) -> DecayReport:
    """Write each engagement's score at ``run_at``; skip values that would not change.

    An item already materialized at or after ``run_at`` is skipped on read and guarded by the
    write's condition, so a repeated run writes nothing.
    """
    report = DecayReport()
    run_ms = to_ms(run_at)
    for aggregate, _version in store.scan_pairs():
        report.examined += 1
        if aggregate.materialized_at_ms is not None and aggregate.materialized_at_ms >= run_ms:
            report.already_done += 1
            continue
        score = round(
            profile.evaluate(aggregate.interaction_count, aggregate.last_ms, run_at).score, SCORE_DECIMALS
        )
        if (
            aggregate.materialized_score is not None
            and round(aggregate.materialized_score, SCORE_DECIMALS) == score
        ):
            report.unchanged += 1
            continue
        if store.record_score(aggregate.key, score=score, at=run_at):
            report.written += 1
        else:
            report.raced += 1
    return report


def cleanup(store: AggregateMaintainer, run_at: datetime, profile: LinearProfile = LINEAR) -> CleanupReport:
    """Delete engagements scoring below 0.01 whose last interaction is at least 90 days old."""
    report = CleanupReport()
    for aggregate, version in store.scan_pairs():
        report.examined += 1
        score = profile.evaluate(aggregate.interaction_count, aggregate.last_ms, run_at)
        if score.score >= CLEANUP_BELOW_SCORE or score.days_since_last_interaction < CLEANUP_MIN_IDLE_DAYS:
            report.kept += 1
        elif store.delete_aggregate(aggregate.key, version=version):
            report.deleted += 1
        else:
            report.raced += 1
    return report
