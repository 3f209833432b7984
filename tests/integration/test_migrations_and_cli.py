"""Migrations match the models; the CLI starts cleanly or stops with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared.migrate import check_database_schema

ZEGEL = [sys.executable, "-m", "shared"]


def _zegel(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*ZEGEL, *args], capture_output=True, text=True, env=full_env, timeout=120, check=False
    )


def test_the_migrated_test_database_matches_the_models() -> None:
    # The session fixture upgraded an empty database to head; alembic check finds no difference.
    check_database_schema()


def test_upgrade_an_empty_database_then_check_through_the_cli(tmp_path: Path) -> None:
    env = {"ZEGEL_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db"}
    upgraded = _zegel("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    checked = _zegel("db", "check", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "Schema en migraties komen overeen." in checked.stdout


def _one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_unreachable_database_stops_with_one_line() -> None:
    result = _zegel(
        "db",
        "upgrade",
        env={"ZEGEL_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )
    line = _one_line_failure(result)
    assert line.startswith(
        "zegel: Database unreachable (postgresql+psycopg://nobody@127.0.0.1:1/none)"
    )


def test_unknown_environment_stops_with_one_line() -> None:
    line = _one_line_failure(_zegel("db", "upgrade", env={"ZEGEL_ENV": "staging"}))
    assert line.startswith("zegel: Invalid configuration: ZEGEL_ENV:")


def test_production_with_default_secrets_refuses_to_start() -> None:
    line = _one_line_failure(
        _zegel(
            "serve", "portal", env={"ZEGEL_ENV": "production", "ZEGEL_SANDBOXES_ENABLED": "false"}
        )
    )
    assert "ZEGEL_SECRET_KEY still has its development default" in line


def test_production_refuses_to_run_the_demo() -> None:
    strong = "s" * 40
    line = _one_line_failure(
        _zegel(
            "demo",
            env={
                "ZEGEL_ENV": "production",
                "ZEGEL_SANDBOXES_ENABLED": "false",
                "ZEGEL_SECRET_KEY": strong,
                "ZEGEL_AUDIT_KEY": strong + "a",
                "ZEGEL_PROTECTION_KEY": strong + "b",
                "ZEGEL_CITIZEN_OIDC_CLIENT_SECRET": strong + "c",
                "ZEGEL_STAFF_OIDC_CLIENT_SECRET": strong + "d",
                "ZEGEL_MAGDA_BASE_URL": "https://magda.example.be/gateway",
                "ZEGEL_MAGDA_CLIENT_ID": "gemeente-testdorp",
                "ZEGEL_MAGDA_PRIVATE_KEY_PATH": "/etc/zegel/magda-client.pem",
            },
        )
    )
    assert "demo does not run with ZEGEL_ENV=production" in line
