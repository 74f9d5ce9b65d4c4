"""`odds prefect setup` and `odds prefect secret` against the session's temporary Prefect server.

The automations are created, read back from the server (trigger, action, block), and a second setup creates
no duplicate (and removes one made by hand). The Secret block command never echoes the key.
Sync tests on purpose: the `odds` command runs its coroutine with `asyncio.run` in this thread, so it sees
the harness's temporary settings (an async test's running loop would move it to a thread without them).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest

from tasks.alerts import AUTOMATIONS, PAID_FLOWS, build_automation

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

NAMES = {spec.name for spec in AUTOMATIONS}


@pytest.fixture(scope="module")
def webhook_block() -> Any:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    block = CustomWebhookNotificationBlock(name="odds", url="http://127.0.0.1:9/alerts",
                                           json_data={"text": "{{body}}"})  # fmt: skip
    block.save("odds-alerts-test", overwrite=True)
    return block


def _automations() -> list[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return [a for a in client.read_automations() if a.name in NAMES]


def test_setup_creates_the_four_automations_once(odds: Any, webhook_block: Any) -> None:
    code, out, err = odds("prefect", "setup", "--block", "custom-webhook/odds-alerts-test", "--json")
    assert code == 0, err
    first = json.loads(out)["automations"]
    assert {a["name"] for a in first} == NAMES
    # run twice: the same four, updated in place
    code, out, err = odds("prefect", "setup", "--block", "odds-alerts-test", "--json")
    assert code == 0, err
    second = json.loads(out)["automations"]
    assert {a["action"] for a in second} == {"updated"}
    assert {a["id"] for a in second} == {a["id"] for a in first}
    stored = _automations()
    assert sorted(a.name for a in stored) == sorted(NAMES)  # no duplicate
    by_name = {a.name: a for a in stored}
    block_id = webhook_block._block_document_id
    for automation in stored:
        assert automation.enabled
        assert [a.type for a in automation.actions] == ["send-notification"]
        assert automation.actions[0].block_document_id == block_id
    overdue = by_name["odds: polymarket backfill overdue"].trigger
    assert overdue.posture == "Proactive"
    assert overdue.expect == {"prefect.flow-run.Completed"}
    assert overdue.within == timedelta(days=3, hours=6)
    assert overdue.match_related.get("prefect.resource.name") == ["backfill-polymarket-history"]
    failed = by_name["odds: paid run failed"].trigger
    assert {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"} <= failed.expect
    assert set(failed.match_related.get("prefect.resource.name")) == set(PAID_FLOWS)
    assert by_name["odds: quota low"].trigger.expect == {"odds.quota.low"}
    assert by_name["odds: new pick"].trigger.expect == {"odds.picks.published"}
    assert "event.payload.message" in by_name["odds: new pick"].actions[0].body


def test_setup_removes_a_duplicate_made_by_hand(odds: Any, webhook_block: Any) -> None:
    from prefect.client.orchestration import get_client

    code, _, err = odds("prefect", "setup", "--block", "odds-alerts-test")
    assert code == 0, err
    with get_client(sync_client=True) as client:
        client.create_automation(build_automation(AUTOMATIONS[1], webhook_block._block_document_id))
    assert len([a for a in _automations() if a.name == AUTOMATIONS[1].name]) == 2
    code, out, err = odds("prefect", "setup", "--block", "odds-alerts-test", "--json")
    assert code == 0, err
    rows = {a["name"]: a for a in json.loads(out)["automations"]}
    assert rows[AUTOMATIONS[1].name]["removed_duplicates"] == 1
    assert sorted(a.name for a in _automations()) == sorted(NAMES)


def test_setup_refuses_a_missing_or_silent_block(odds: Any) -> None:
    from prefect.blocks.system import Secret

    odds.fails(2, r"no Prefect block 'nobody-configured-this'", "prefect", "setup", "--block",
               "nobody-configured-this")  # fmt: skip
    Secret(value="x").save("odds-not-a-notifier", overwrite=True)
    odds.fails(2, r"cannot send notifications", "prefect", "setup", "--block", "odds-not-a-notifier")


def test_secret_set_api_key_saves_without_echoing(odds: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks.system import Secret

    key = "sentinel-key-6f1c2b7d9e"
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    code, out, err = odds("prefect", "secret", "set-api-key", "--block", "odds-api-key-test")
    assert code == 0, err
    assert key not in out + err
    assert f"{len(key)} characters" in out
    assert Secret.load("odds-api-key-test").get() == key
    # from the environment
    monkeypatch.setenv("ODDS_API_KEY", key + "2")
    code, out, err = odds("prefect", "secret", "set-api-key", "--block", "odds-api-key-test", "--from-env")
    assert code == 0, err
    assert key not in out + err
    assert Secret.load("odds-api-key-test").get() == key + "2"
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    odds.fails(
        2, r"empty value; nothing saved", "prefect", "secret", "set-api-key", "--block", "odds-api-key-test"
    )
