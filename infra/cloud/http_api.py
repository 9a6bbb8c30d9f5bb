"""The HTTP API: exactly the routes the topology declares, each to its function.

HTTP API rather than REST: webhook signatures are checked in Lambda anyway, and none of the
REST-only features (WAF, usage plans, request validation) is used. Payload format 2.0 is what
the local runner reproduces and what the Powertools resolver is configured for.

Protection at the edge: the stage throttles the whole API and every route has its own bucket
(both from the stage config). Request size is not configurable on an HTTP API (its payload
limit is a fixed 10 MB); the functions refuse bodies over 1 MiB with a 413 before parsing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from engagement.topology import RouteSpec, Topology
from infra.cloud.config import StageConfig, Throttle
from infra.cloud.nag import acknowledge
from infra.cloud.naming import pascal

AUTHORIZED_IN_FUNCTION = (
    "Authorized in the function, not by API Gateway: the handler checks the bearer key against the "
    "Secrets Manager key list (constant-time) before it reads the request, and answers 401 otherwise. "
    "An HTTP API Lambda authorizer would add a second invocation per request for the same check."
)
WEBHOOK_TAG = "webhooks"
"""The topology's OpenAPI tag for provider webhooks."""
VERIFIED_WEBHOOK = (
    "Public by design: {route} is a provider webhook ({function}) and providers cannot send a bearer "
    "key. The function verifies the provider's secret or signature on the raw request before any "
    "field is trusted, and refuses every request while that secret is not configured."
)
PUBLIC_ROUTE = (
    "Public by design: the topology declares {route} public (RouteSpec.public), so no bearer key is "
    "asked for. It is served by {function}: {description}. Throttled per route like every other."
)

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
        topology: Topology,
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
                rate_limit=stage.throttle.rate_limit, burst_limit=stage.throttle.burst_limit
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))),
            ),
        )
        # One integration per function, shared by all of its routes.
        self.integrations: dict[str, integrations.HttpLambdaIntegration] = {}
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        for route in topology.routes:
            integration = self.integrations.get(route.function)
            if integration is None:
                integration = integrations.HttpLambdaIntegration(
                    f"{pascal(route.function)}Integration",
                    functions[route.function],
                    payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0,
                )
                self.integrations[route.function] = integration
            (http_route,) = self.api.add_routes(
                path=route.path, methods=[apigwv2.HttpMethod[route.method]], integration=integration
            )
            acknowledge(http_route, "AwsSolutions-APIG4", _authorization_reason(route, topology))
            self.routes[route.route_key] = http_route

        cfn_stage = self.stage.node.default_child
        assert isinstance(cfn_stage, apigwv2.CfnStage)
        cfn_stage.route_settings = route_settings(topology.routes, stage)
        # CloudFormation rejects route settings that name a route which does not exist yet.
        for http_route in self.routes.values():
            cfn_stage.node.add_dependency(http_route)

    @property
    def url(self) -> str:
        """The stage's invoke URL (``https://<id>.execute-api.<region>.amazonaws.com/``)."""
        return self.stage.url


def route_settings(routes: Sequence[RouteSpec], stage: StageConfig) -> dict[str, dict[str, Any]]:
    """The stage's ``RouteSettings``: every route's own throttle, by route key."""
    declared = {route.route_key for route in routes}
    unknown = set(stage.route_throttle_overrides) - declared
    if unknown:
        names = ", ".join(sorted(unknown))
        raise ValueError(f"stage {stage.name}: route_throttle_overrides name undeclared routes {names}")
    return {
        route.route_key: _throttle_settings(
            stage.route_throttle_overrides.get(route.route_key, stage.route_throttle)
        )
        for route in routes
    }


def _throttle_settings(throttle: Throttle) -> dict[str, Any]:
    return {"ThrottlingRateLimit": throttle.rate_limit, "ThrottlingBurstLimit": throttle.burst_limit}


def _authorization_reason(route: RouteSpec, topology: Topology) -> str:
    if not route.public:
        return AUTHORIZED_IN_FUNCTION
    template = VERIFIED_WEBHOOK if route.tag == WEBHOOK_TAG else PUBLIC_ROUTE
    function = topology.function(route.function)
    return template.format(
        route=route.route_key, function=function.name, description=function.description.rstrip(".")
    )
