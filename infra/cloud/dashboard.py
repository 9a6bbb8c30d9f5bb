"""The on-call dashboard: the state of every alarm, then each alarm's metric against its line.

Built from the same signals as the alarms, one row per group, so what is on the screen is
exactly what pages: nothing watched is missing, nothing shown is unwatched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.cloud.signals import GROUPS, Signal

FULL_WIDTH = 24
WIDGET_WIDTH = 8
WIDGET_HEIGHT = 6


class ServiceDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        signals: Sequence[Signal],
        alarms: Mapping[str, cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, construct_id)
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms",
                    alarms=[alarms[signal.key] for signal in signals],
                    width=FULL_WIDTH,
                    height=2 + len(signals) // 6,
                    sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
                )
            ]
        ]
        for group in GROUPS:
            in_group = [signal for signal in signals if signal.group == group]
            if not in_group:
                continue
            rows.append([cloudwatch.TextWidget(markdown=f"## {group}", width=FULL_WIDTH, height=1)])
            rows.append(
                [
                    cloudwatch.AlarmWidget(
                        alarm=alarms[signal.key],
                        title=signal.title,
                        width=WIDGET_WIDTH,
                        height=WIDGET_HEIGHT,
                    )
                    for signal in in_group
                ]
            )
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            # Named after the stack so on-call finds it by the name they already know, plus the
            # Region: dashboard names are unique per account, not per Region.
            dashboard_name=f"{Stack.of(self).stack_name}-{Stack.of(self).region}",
            widgets=rows,
        )
