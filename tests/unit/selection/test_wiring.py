"""A decline needs the contracts' listener (market.app.wire_services): without it an award
given up would leave its contract in force, so the service refuses to run half-wired."""

from __future__ import annotations

from typing import Any

import pytest

from market.app import wire_services
from market.contracts import service as contracts
from market.selection import service


async def test_a_decline_refuses_to_run_when_the_services_are_not_wired(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "DECLINE_LISTENERS", [])
    nothing: Any = None
    with pytest.raises(RuntimeError, match="wire_services"):
        await service.pass_on_decline(
            nothing, notice=nothing, award=nothing, agency=nothing, reason="x", settings=nothing
        )


def test_wiring_registers_the_contracts_listener_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "DECLINE_LISTENERS", [])
    wire_services()
    wire_services()
    assert service.DECLINE_LISTENERS == [contracts.AWARD_DECLINED]
