"""The movable clock (``shared.web.clock``): a test moves a service's time on by writing a file, never in
production."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from painreview.simulator import SimulatorSettings, create_simulator_app
from services.gpconnect.settings import GpconnectSettings
from services.medreview.settings import MedreviewSettings
from shared.web.clock import FileClock, system_clock, write_clock

POSTGRES = "postgresql://postgres@127.0.0.1:5432/medreview"
NATS = "nats://127.0.0.1:4222"


def test_the_clock_runs_from_the_instant_in_its_file_and_moves_when_the_file_is_rewritten(
    tmp_path: Path,
) -> None:
    path = tmp_path / "clock"
    clock = FileClock(path)
    before = system_clock()
    assert before <= clock() <= system_clock()  # no file yet: the system clock
    write_clock(path, datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    first = clock()
    assert datetime(2026, 3, 16, 9, 0, tzinfo=UTC) <= first < datetime(2026, 3, 16, 9, 1, tzinfo=UTC)
    assert clock() >= first  # it runs on (polls and retries still come due)
    write_clock(path, datetime(2026, 3, 30, 9, 0, tzinfo=UTC))
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 1))  # a rewrite within the same tick
    assert clock().date().isoformat() == "2026-03-30"
    path.write_text("2026-04-13T09:00:00", encoding="utf-8")  # no offset: refused, not guessed
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 2))
    with pytest.raises(ValueError, match="offset"):
        clock()
    with pytest.raises(ValueError, match="timezone"):
        write_clock(path, datetime(2026, 4, 13, 9, 0))


@pytest.mark.parametrize(
    ("settings_class", "prefix"), [(MedreviewSettings, "MEDREVIEW_"), (GpconnectSettings, "GPCONNECT_")]
)
def test_a_service_takes_its_clock_file_in_development_and_refuses_it_in_production(
    settings_class: type[MedreviewSettings] | type[GpconnectSettings],
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "clock"
    write_clock(path, datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    monkeypatch.setenv(f"{prefix}CLOCK_FILE", str(path))
    assert settings_class().clock()().date().isoformat() == "2026-03-16"
    monkeypatch.setenv(f"{prefix}ENVIRONMENT", "production")
    monkeypatch.setenv(f"{prefix}DATABASE_URL", POSTGRES)
    monkeypatch.setenv(f"{prefix}NATS_URL", NATS)
    with pytest.raises(ValidationError, match="clock file"):
        settings_class()
    monkeypatch.delenv(f"{prefix}CLOCK_FILE")
    assert settings_class().clock() is system_clock
    monkeypatch.setenv(f"{prefix}ENVIRONMENT", "development")  # the machine's ENVIRONMENT says production
    monkeypatch.setenv(f"{prefix}CLOCK_FILE", str(path))
    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="clock file"):
        settings_class()


def test_the_gp_simulator_writes_a_change_on_its_clocks_day(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    write_clock(path, system_clock() + timedelta(days=14))
    settings = SimulatorSettings(
        practices="A81001", patients_per_practice=5, token=SecretStr("t"), clock_file=path
    )
    sim = create_simulator_app(settings).state.simulator
    assert sim.day == (system_clock() + timedelta(days=14)).date()
