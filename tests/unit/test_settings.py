"""Settings are declared once, parsed once, read from one module, and documented from the declaration."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engagement import settings
from engagement.topology import TOPOLOGY
from infra.local.environment import apply, function_environment

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_NAMES = {f.name for f in TOPOLOGY.functions}
SENTINEL = "junk-\u2603-value"


def test_the_configuration_page_is_generated_from_the_declaration() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == settings.markdown(), "run: .venv/bin/python -m engagement.settings > docs/configuration.md"


def _reads_the_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "environb", "putenv"}:
            lines.append(node.lineno)
        names = {alias.name for alias in node.names} if isinstance(node, ast.ImportFrom) else set()
        if isinstance(node, ast.ImportFrom) and node.module == "os" and names & {"environ", "getenv"}:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "functions" / "engagement").rglob("*.py"))
        if (found := _reads_the_environment(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert set(readers) == {"functions/engagement/settings.py"}, readers


def test_the_scan_finds_every_way_of_reading_the_environment() -> None:
    for source in ("import os\nos.environ.get('X')", "import os\nos.getenv('X')", "from os import environ"):
        assert _reads_the_environment(ast.parse(source))
    assert not _reads_the_environment(ast.parse("import os\nos.path.join('a')"))


def test_every_reader_is_a_function_of_the_topology() -> None:
    for variable in settings.variables():
        assert variable.readers, variable.name
        assert set(variable.readers) <= FUNCTION_NAMES, variable.name


def test_variable_names_are_unique() -> None:
    names = [v.name for v in settings.variables()]
    assert len(names) == len(set(names))


def test_every_function_reads_its_tables_buses_and_secrets() -> None:
    for function in TOPOLOGY.functions:
        aws = {v.name for v in settings.variables_of(function.name, in_aws=True)}
        local = {v.name for v in settings.variables_of(function.name, in_aws=False)}
        for key in function.tables:
            assert TOPOLOGY.table(key).env_var in aws & local
        for key in function.secrets:
            secret = TOPOLOGY.secret(key)
            assert secret.arn_env in aws - local  # the value never travels in AWS
            assert secret.local_env in local - aws  # and the runner never needs an ARN


def test_defaults_parse_to_the_documented_values() -> None:
    parsed = settings.load({})
    assert parsed.telegram_bot_id == "issue-tracker-bot"
    assert (parsed.event_retention_days, parsed.history_retention_days) == (400, 400)
    assert (parsed.link_ttl_days, parsed.click_window_minutes) == (90, 30)
    assert parsed.public_base_url is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LINK_TTL_DAYS", "0"),
        ("LINK_TTL_DAYS", "366"),
        ("CLICK_WINDOW_MINUTES", "soon"),
        ("EVENT_RETENTION_DAYS", "-1"),
        ("PUBLIC_BASE_URL", "ftp://example.com"),
        ("PUBLIC_BASE_URL", "https://example.com/?q=1"),
        ("PUBLIC_BASE_URL", "http://127.0.0.1:99999"),
        ("TELEGRAM_BOT_ID", "a bot"),
        ("TELEGRAM_ISSUE_KEY_PATTERN", "(unclosed"),
        ("TELEGRAM_ISSUE_KEY_PATTERN", ".*"),
        ("SEGMENT_BANDS", "lukewarm=3"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_rule(variable: str, value: str) -> None:
    with pytest.raises(settings.SettingsError, match=variable) as raised:
        settings.load({variable: value})
    assert " must be " in str(raised.value)


def test_errors_never_repeat_the_value_and_report_every_problem_at_once() -> None:
    junk = {v.name: SENTINEL for v in settings.variables() if v.origin == "setting"}
    with pytest.raises(settings.SettingsError) as raised:
        settings.load(junk)
    message = str(raised.value)
    assert SENTINEL not in message
    for name in ("LINK_TTL_DAYS", "CLICK_WINDOW_MINUTES", "PUBLIC_BASE_URL", "TELEGRAM_BOT_ID"):
        assert name in message


def test_a_function_without_its_tables_fails_its_init_naming_them() -> None:
    with pytest.raises(settings.SettingsError, match=r"scorer: .*AGGREGATES_TABLE must be set"):
        settings.load({}, function="scorer")
    named = {
        v.name: "t" for v in settings.variables_of("scorer", in_aws=True) if v.origin in ("table", "bus")
    }
    assert settings.load(named, function="scorer").table("aggregates") == "t"


def test_an_arn_wins_over_a_stray_secret_value() -> None:
    spec = TOPOLOGY.secret("api_keys")
    parsed = settings.load({spec.arn_env: "arn:aws:secretsmanager:x", spec.local_env: "stray"})
    assert parsed.secrets["api_keys"].arn == "arn:aws:secretsmanager:x"


def test_stage_overrides_accept_only_declared_settings_with_valid_values() -> None:
    settings.validate_overrides({"EVENT_RETENTION_DAYS": "30", "SEGMENT_BANDS": "hot=80"})
    with pytest.raises(settings.SettingsError, match="EVENTS_TABLE"):
        settings.validate_overrides({"EVENTS_TABLE": "mine"})  # resources come from the stack
    with pytest.raises(settings.SettingsError, match="EVENT_RETENTION_DAYS"):
        settings.validate_overrides({"EVENT_RETENTION_DAYS": "forever"})


def _runner_environment(shell: dict[str, str]) -> dict[str, str]:
    return function_environment(
        shell=shell,
        table_prefix="local",
        dynamodb_url="http://127.0.0.1:8000",
        log_level="WARNING",
        secrets={"ENGAGEMENT_API_KEYS": "generated"},
        public_base_url="http://127.0.0.1:3000",
        failure_queues={"scorer": "http://127.0.0.1:8000/000000000000/local-scorer-stream-failures"},
    )


def test_the_runner_sets_what_every_function_reads_locally() -> None:
    environment = _runner_environment({})
    for function in TOPOLOGY.functions:
        for variable in settings.variables_of(function.name, in_aws=False):
            if variable.origin != "secret_value":
                assert variable.name in environment, variable.name
    assert environment["PUBLIC_BASE_URL"] == "http://127.0.0.1:3000"
    assert environment["ENGAGEMENT_API_KEYS"] == "generated"
    assert not {v.name for v in settings.variables() if v.origin == "secret_arn"} & set(environment)
    settings.load(environment, function="decay")  # every function can start on it


def test_the_shell_may_set_settings_and_secrets_but_never_resources_or_aws() -> None:
    shell = {
        "PUBLIC_BASE_URL": "https://tunnel.example",
        "ENGAGEMENT_API_KEYS": "mine",
        "EVENTS_TABLE": "someone-elses",
        "STREAM_FAILURE_QUEUE_URL": "https://sqs.example/someone-elses",
        "TWILIO_AUTH_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:x",
        "AWS_PROFILE": "production",
        "AWS_ENDPOINT_URL": "https://junk.example",
    }
    environment = _runner_environment(shell)
    assert environment["PUBLIC_BASE_URL"] == "https://tunnel.example"
    assert environment["ENGAGEMENT_API_KEYS"] == "mine"
    assert environment["EVENTS_TABLE"] == "local-events"
    assert environment["STREAM_FAILURE_QUEUE_URL"].endswith("/local-scorer-stream-failures")
    process = dict(shell)
    apply(environment, process)
    assert "AWS_PROFILE" not in process
    assert "AWS_ENDPOINT_URL" not in process
    assert "TWILIO_AUTH_TOKEN_SECRET_ARN" not in process
    assert process["EVENTS_TABLE"] == "local-events"


def test_ci_exports_junk_for_every_declared_variable() -> None:
    import subprocess
    import sys

    from tests.sealed import child_environment

    printed = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "declared_variables.py")],
        env=child_environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert set(printed) == {v.name for v in settings.variables()}
