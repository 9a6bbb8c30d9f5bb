"""Every function is built as its FunctionSpec says, on the runtime the Powertools layer targets."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest

from engagement import settings
from engagement.topology import TOPOLOGY, FunctionSpec
from infra.cloud.app import FUNCTIONS_DIR
from infra.cloud.functions import POWERTOOLS_LAYER_PARAMETER, POWERTOOLS_VERSION
from tests.infra.cfn import local_ref, logical_id
from tests.infra.conftest import STAGE_SETTINGS
from tests.infra.synth import Synthesized

SPECS = {spec.name: spec for spec in TOPOLOGY.functions}


def _props(dev: Synthesized, spec: FunctionSpec) -> dict[str, Any]:
    function_id = logical_id(dev.stacks.service.functions[spec.name])
    resource = dev.service.to_json()["Resources"][function_id]
    assert resource["Type"] == "AWS::Lambda::Function"
    props: dict[str, Any] = resource["Properties"]
    return props


def test_one_function_per_spec(dev: Synthesized) -> None:
    assert len(dev.service.find_resources("AWS::Lambda::Function")) == len(TOPOLOGY.functions)


@pytest.mark.parametrize("name", SPECS)
def test_function_matches_its_spec(dev: Synthesized, name: str) -> None:
    spec = SPECS[name]
    props = _props(dev, spec)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == spec.handler
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_s
    assert props["Description"] == spec.description
    assert props["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("name", SPECS)
def test_function_uses_the_pinned_powertools_layer(dev: Synthesized, name: str) -> None:
    layer = _props(dev, SPECS[name])["Layers"][0]  # first, so our own layers cannot shadow it
    parameter = dev.service.to_json()["Parameters"][local_ref(layer).logical_id]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == POWERTOOLS_LAYER_PARAMETER


def test_layer_is_the_powertools_version_the_tests_run() -> None:
    assert (
        f"/aws/service/powertools/python/arm64/python3.13/{POWERTOOLS_VERSION}" == POWERTOOLS_LAYER_PARAMETER
    )
    assert version("aws-lambda-powertools") == POWERTOOLS_VERSION


@pytest.mark.parametrize("name", SPECS)
def test_handler_module_is_in_the_asset(name: str) -> None:
    module_path = FUNCTIONS_DIR / (SPECS[name].module.replace(".", "/") + ".py")
    assert module_path.is_file(), module_path


@pytest.mark.parametrize("name", SPECS)
def test_environment_is_exactly_what_the_settings_declaration_says_the_function_reads(
    dev: Synthesized, name: str
) -> None:
    variables = _props(dev, SPECS[name])["Environment"]["Variables"]
    declared = {v.name: v for v in settings.variables_of(name, in_aws=True)}
    assert set(variables) == set(declared)  # no more, no less
    stateful = dev.stacks.stateful.resources
    for variable_name, variable in declared.items():
        value = variables[variable_name]
        if variable.origin in ("setting", "library"):
            assert value == variable.default, variable_name
            continue
        resources = {
            "table": stateful.tables,
            "bus": stateful.buses,
            "secret_arn": stateful.secrets,
            "queue": stateful.failure_queues,
        }
        resource = resources[variable.origin][variable.resource or ""]
        # A table's or bus's Ref is its name, a secret's Ref its ARN, a queue's its URL: exactly
        # what the runtime reads.
        assert dev.exports.ref(value).logical_id == logical_id(resource), variable_name
        assert dev.exports.ref(value).attribute is None, variable_name


def test_a_stage_overrides_a_setting_for_every_function_that_reads_it(existing_topic: Synthesized) -> None:
    ((name, value),) = STAGE_SETTINGS.items()
    readers = {v.name: v.readers for v in settings.variables()}[name]
    for spec in TOPOLOGY.functions:
        variables = _props(existing_topic, spec)["Environment"]["Variables"]
        assert (variables.get(name) == value) == (spec.name in readers), spec.name


@pytest.mark.parametrize("name", SPECS)
def test_function_logs_to_its_own_group_with_stage_retention(dev: Synthesized, name: str) -> None:
    log_group_id = local_ref(_props(dev, SPECS[name])["LoggingConfig"]["LogGroup"]).logical_id
    log_group = dev.service.to_json()["Resources"][log_group_id]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == 7


def test_functions_have_separate_roles(dev: Synthesized) -> None:
    roles = [local_ref(_props(dev, spec)["Role"]).logical_id for spec in TOPOLOGY.functions]
    assert len(set(roles)) == len(roles)


def test_prod_keeps_logs_longer(prod: Synthesized) -> None:
    retentions = {
        group["Properties"]["RetentionInDays"]
        for group in prod.service.find_resources("AWS::Logs::LogGroup").values()
    }
    assert retentions == {90}


def test_functions_that_declare_packages_get_them_in_a_layer_built_for_arm64(dev: Synthesized) -> None:
    from infra.cloud.dependencies import layer_directory, pins

    for spec in TOPOLOGY.functions:
        layers = _props(dev, spec)["Layers"]
        assert len(layers) == (2 if spec.packages else 1), spec.name
    sms = next(spec for spec in TOPOLOGY.functions if spec.packages)
    directory = layer_directory(sms.packages)
    assert (directory / ".complete").read_text().split() == pins(sms.packages)
    native = list((directory / "python").rglob("*.so"))
    assert native
    assert all("aarch64" in path.name or "abi3" in path.name for path in native), native
    assert not (directory / "python" / "pydantic").exists()  # only what was declared (and its needs)
