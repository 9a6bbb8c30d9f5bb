"""Alarms for the failures that lose or delay data silently.

A stream batch on the failure queue is metadata only: the records it points at leave the stream
24 h later, so someone has to hear about it the same day. The alarms exist in every stage; they
notify only when the stage names an address.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.cloud.config import StageConfig
from infra.cloud.naming import pascal

PERIOD = Duration.minutes(5)
# The scorer is falling behind long before records age out into the failure queue.
ITERATOR_AGE_THRESHOLD = Duration.minutes(5)


class ServiceAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        functions: Mapping[str, lambda_.IFunction],
        stream_consumers: Iterable[str],
        failure_queues: Mapping[str, sqs.IQueue],
        api: apigwv2.IHttpApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []

        for function_name, queue in failure_queues.items():
            self._at_least_once(
                f"{pascal(function_name)}StreamFailures",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"{function_name}: a stream batch was given up. Its healthy records were applied; "
                "rebuild the affected aggregates from the event log rather than replaying the range",
            )
        for function_name in stream_consumers:
            self.alarms.append(
                cloudwatch.Alarm(
                    self,
                    f"{pascal(function_name)}IteratorAge",
                    metric=functions[function_name].metric("IteratorAge", period=PERIOD, statistic="Maximum"),
                    threshold=ITERATOR_AGE_THRESHOLD.to_milliseconds(),
                    evaluation_periods=3,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                    alarm_description=f"{function_name} is falling behind its stream",
                )
            )
        for function_name, function in functions.items():
            self._at_least_once(
                f"{pascal(function_name)}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"{function_name} raised unhandled errors",
            )
        self._at_least_once(
            "Api5xx",
            api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The HTTP API answered 5xx (store failures, integration errors)",
        )

        self.topic: sns.Topic | None = None
        if stage.alarm_email:
            self.topic = sns.Topic(self, "AlarmTopic")
            self.topic.add_subscription(subscriptions.EmailSubscription(stage.alarm_email))
            action = cloudwatch_actions.SnsAction(self.topic)
            for alarm in self.alarms:
                alarm.add_alarm_action(action)

    def _at_least_once(self, alarm_id: str, metric: cloudwatch.IMetric, description: str) -> None:
        self.alarms.append(
            cloudwatch.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
        )
