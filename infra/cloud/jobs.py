"""One Step Functions state machine per scheduled job, built from its ``JobSpec``.

    Plan ──► Segments (distributed map, up to max_concurrency at once)
               └─ Work ──► done? ──no──► Work (resumes from the segment's checkpoint)
                                └─yes─► segment finished
         ──► Finish (sums the checkpoints: metrics, one log line; fails if a segment is not done)

Every step is the job's Lambda with the event the local runner sends too (``infra.local.jobs``).
A failed execution (a step out of retries, an incomplete run) is alarmed on; the execution's
input is the scheduled ``time``, so starting it again resumes the same run.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from engagement.topology import JobSpec
from infra.cloud.config import StageConfig
from infra.cloud.nag import acknowledge

STEP_RETRY_INTERVAL = Duration.seconds(10)
STEP_RETRY_BACKOFF = 2.0
EXECUTION_TIMEOUT = Duration.hours(23)
"""Below a day: a daily run still going when the next one starts is a failure to look at."""


class JobStateMachine(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: JobSpec,
        function: lambda_.IFunction,
        stage: StageConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        plan = self._invoke(
            "Plan",
            spec,
            function,
            sfn.TaskInput.from_object({"step": "plan", "time": sfn.JsonPath.string_at("$.time")}),
        )
        work = self._invoke("Work", spec, function, None)  # the segment task, as the map hands it over
        segment = work.next(
            sfn.Choice(self, "SegmentDone")
            .when(sfn.Condition.boolean_equals("$.done", True), sfn.Succeed(self, "SegmentFinished"))
            .otherwise(work)
        )
        segments = sfn.DistributedMap(
            self,
            "Segments",
            items_path="$.segments",
            max_concurrency=spec.max_concurrency,
            map_execution_type=sfn.StateMachineType.STANDARD,
            result_path=sfn.JsonPath.DISCARD,
        )
        segments.item_processor(segment)
        finish = self._invoke(
            "Finish",
            spec,
            function,
            sfn.TaskInput.from_object(
                {
                    "step": "finish",
                    "job": sfn.JsonPath.string_at("$.job"),
                    "time": sfn.JsonPath.string_at("$.time"),
                }
            ),
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=stage.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment=spec.description,
            definition_body=sfn.DefinitionBody.from_chainable(plan.next(segments).next(finish)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=EXECUTION_TIMEOUT,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self._acknowledge(function)

    def _acknowledge(self, function: lambda_.IFunction) -> None:
        """The state machine's wildcards, each inherent in what it does."""
        stack = Stack.of(self)
        function_id = stack.get_logical_id(function.node.default_child)  # type: ignore[arg-type]
        machine_id = stack.get_logical_id(self.state_machine.node.default_child)  # type: ignore[arg-type]
        execution = (
            "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{machine_id}"}}]}}]}}'
        )
        children = "The distributed map describes and stops the child executions this state machine starts"
        for resource, reason in (
            (
                f"<{function_id}.Arn>:*",
                "CDK's Lambda task grants invoke on the job function's versions and aliases too; it is "
                "still the one function",
            ),
            (f"{execution}:*", children),
            (f"{execution}/*:*", children),
            (
                "*",
                "X-Ray's PutTraceSegments and CloudWatch Logs' log-delivery actions have no resource "
                "level; they are the only statements on '*'",
            ),
        ):
            acknowledge(self.state_machine, f"AwsSolutions-IAM5[Resource::{resource}]", reason)

    def _invoke(
        self, name: str, spec: JobSpec, function: lambda_.IFunction, payload: sfn.TaskInput | None
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            name,
            lambda_function=function,
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        # Every step is idempotent at the run's instant (work resumes from its checkpoint), so any
        # error is retried: a throttle, a timeout, a crash.
        task.add_retry(
            errors=[sfn.Errors.ALL],
            max_attempts=spec.step_attempts - 1,
            interval=STEP_RETRY_INTERVAL,
            backoff_rate=STEP_RETRY_BACKOFF,
        )
        return task
