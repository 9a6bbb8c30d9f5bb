"""Alarms, one per signal, wired to the alarm topic when the stage has one.

A stream batch on the failure queue is metadata only: the records it points at leave the stream
24 h later, so someone has to hear about it the same day. The alarms exist in every stage; they
notify only when the stage names a topic or an address (then on ALARM and on OK, so whoever was
paged also learns that it cleared).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.cloud.signals import Signal


class ServiceAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        signals: Sequence[Signal],
        topic: sns.ITopic | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = topic
        self.by_signal: dict[str, cloudwatch.Alarm] = {}
        action = cloudwatch_actions.SnsAction(topic) if topic is not None else None
        for signal in signals:
            alarm = cloudwatch.Alarm(
                self,
                signal.key,
                metric=signal.metric,
                threshold=signal.threshold,
                comparison_operator=signal.comparison,
                evaluation_periods=signal.evaluation_periods,
                datapoints_to_alarm=signal.datapoints_to_alarm,
                # No data means nothing happened (no batch failed, no request was made).
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=signal.description,
            )
            if action is not None:
                alarm.add_alarm_action(action)
                alarm.add_ok_action(action)
            self.by_signal[signal.key] = alarm

    @property
    def alarms(self) -> list[cloudwatch.Alarm]:
        return list(self.by_signal.values())
