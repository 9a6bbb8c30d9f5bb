"""The declaration is internally consistent: everything it names exists."""

from __future__ import annotations

import importlib

import pytest

from engagement import settings
from engagement.topology import TOPOLOGY, WRITE_ACTIONS, FunctionSpec, JobSpec

FUNCTION_NAMES = {f.name for f in TOPOLOGY.functions}
TABLE_KEYS = {t.key for t in TOPOLOGY.tables}


def test_routes_are_unique_and_point_at_declared_functions() -> None:
    keys = [r.route_key for r in TOPOLOGY.routes]
    assert len(keys) == len(set(keys))
    assert {r.function for r in TOPOLOGY.routes} <= FUNCTION_NAMES


def test_stream_mappings_read_tables_that_have_a_stream() -> None:
    for mapping in TOPOLOGY.stream_mappings:
        assert TOPOLOGY.table(mapping.table).stream is not None
        assert mapping.function in FUNCTION_NAMES
        # Finite limits: AWS defaults (-1) let one poison record stall a shard for a day.
        assert mapping.retry_attempts >= 0
        assert 60 <= mapping.max_record_age_s <= 604_800
        assert mapping.report_batch_item_failures
        assert mapping.batch_size <= 100  # one dedupe condition per event must fit a 4 KB expression


def test_schedules_target_declared_functions() -> None:
    assert {TOPOLOGY.job(s.job).function for s in TOPOLOGY.schedules} <= FUNCTION_NAMES
    assert {s.expression for s in TOPOLOGY.schedules} == {
        "cron(0 0 * * ? *)",
        "cron(0 2 ? * SUN *)",
        "cron(0 3 ? * SUN *)",
    }


@pytest.mark.parametrize("function", TOPOLOGY.functions, ids=lambda f: f.name)
def test_functions_use_declared_tables_and_secrets(function: FunctionSpec) -> None:
    assert set(function.tables) <= TABLE_KEYS
    assert {TOPOLOGY.secret(s).key for s in function.secrets} == set(function.secrets)
    assert set(function.indexes) <= set(function.tables)  # the table's name reaches the function
    for table, indexes in function.indexes.items():
        assert {TOPOLOGY.table(table).index(name).name for name in indexes} == set(indexes)


@pytest.mark.parametrize("job", TOPOLOGY.jobs, ids=lambda j: j.name)
def test_a_job_step_fits_its_function(job: JobSpec) -> None:
    function = TOPOLOGY.function(job.function)
    # The work budget plus the margin before Lambda's timeout in which a step finishes its page.
    assert job.work_budget_s + 60 <= function.timeout_s
    assert job.step_attempts >= 2


def test_buses_are_published_to_by_declared_functions() -> None:
    for bus in TOPOLOGY.buses:
        assert {TOPOLOGY.function(name).name for name in bus.publishers} == set(bus.publishers)


@pytest.mark.parametrize("function", TOPOLOGY.functions, ids=lambda f: f.name)
def test_every_handler_path_resolves_to_a_callable(
    function: FunctionSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its init parses its settings and needs its resources named, as the stack names them.
    for variable in settings.variables_of(function.name, in_aws=True):
        if variable.origin in ("table", "bus"):
            monkeypatch.setenv(variable.name, f"unit-{variable.resource}")
    settings.reset()
    module = importlib.import_module(function.module)
    assert callable(getattr(module, function.attribute))


def test_a_stream_consumer_never_writes_to_a_table_with_a_stream() -> None:
    """Its own writes would come back to it: DynamoDB Streams have no recursive-loop detection."""
    for mapping in TOPOLOGY.stream_mappings:
        consumer = TOPOLOGY.function(mapping.function)
        written = {key for key, actions in consumer.tables.items() if WRITE_ACTIONS & set(actions)}
        assert all(TOPOLOGY.table(key).stream is None for key in written)
