"""The HTTP API: exactly the routes the topology declares, each to its function.

HTTP API rather than REST: webhook signatures are checked in Lambda anyway, and none of the
REST-only features (WAF, usage plans, request validation) is used. Payload format 2.0 is what
the local runner reproduces and what the Powertools resolver is configured for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from engagement.topology import RouteSpec
from infra.cloud.config import StageConfig
from infra.cloud.naming import pascal

# HTTP API $context variables (not the REST ones: several of those do not exist here).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    # The route key, not the path: paths carry user ids, and those are phone numbers for SMS.
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationError": "$context.integrationErrorMessage",
    "error": "$context.error.message",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """``IAccessLogSettings`` as a typed object (the documented dict form does not type-check)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat | None:
        return self._format


class EngagementHttpApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: Sequence[RouteSpec],
        functions: Mapping[str, lambda_.IFunction],
        stage: StageConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "Api",
            description=f"Engagement scoring ({stage.name})",
            # Our own $default stage below, because the automatic one has no throttling or logs.
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=stage.log_retention, removal_policy=stage.removal_policy
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=stage.throttle_rate_limit, burst_limit=stage.throttle_burst_limit
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))),
            ),
        )
        # One integration per function, shared by all of its routes.
        self.integrations: dict[str, integrations.HttpLambdaIntegration] = {}
        for route in routes:
            integration = self.integrations.get(route.function)
            if integration is None:
                integration = integrations.HttpLambdaIntegration(
                    f"{pascal(route.function)}Integration",
                    functions[route.function],
                    payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
                )
                self.integrations[route.function] = integration
            self.api.add_routes(
                path=route.path, methods=[apigwv2.HttpMethod[route.method]], integration=integration
            )

    @property
    def url(self) -> str:
        """The stage's invoke URL (``https://<id>.execute-api.<region>.amazonaws.com/``)."""
        return self.stage.url
