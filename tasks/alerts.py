"""Alerts for what needs a person: the pipeline's own Prefect events and the automations that notify on them.

Events the pipeline emits (plain functions: an event is one cheap call, not a step worth a task run):

| event | resource | emitted by | payload |
|---|---|---|---|
| `odds.quota.low` | `odds.oddsapi.quota` | a paid call whose answer takes the quota below a warning fraction (`QUOTA_WARN_FRACTIONS`), once per level | remaining, used, fraction, level, message |
| `odds.picks.published` | `odds.picks` | the `predict` flow, when it records picks not published before | count, picks (one line each), message |

`AUTOMATIONS` are what `odds prefect setup` creates (or updates, matched by name: running it twice creates no
duplicate). Each notifies one notification block the user saved (Slack, a webhook, email...):

1. the Polymarket history backfill has not completed within its 3-day duty (proactive: a Completed run of
   `backfill-polymarket-history` was expected and none came within 3 days and 6 hours);
2. the Odds API quota crossed a warning fraction (`odds.quota.low`);
3. a paid run failed (a run of `fetch-odds`, `fetch-scores` or `backfill-odds-history` ended Failed, Crashed
   or TimedOut);
4. a new pick was published (`odds.picks.published`).

Why automations and not `triggers:` in prefect.yaml: deployment triggers can only *run the deployment*; none
of them can send a notification, and the proactive "no Completed run" check needs an automation anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from odds_analytics.quota import QuotaStatus
from odds_models.errors import ConfigError

__all__ = [
    "ALERT_TAG",
    "AUTOMATIONS",
    "DEFAULT_BLOCK",
    "PAID_FLOWS",
    "PICKS_EVENT",
    "QUOTA_EVENT",
    "AlertSpec",
    "apply_automations",
    "build_automation",
    "emit_picks_published",
    "emit_quota_low",
    "resolve_notification_block",
]

log = logging.getLogger(__name__)

QUOTA_EVENT = "odds.quota.low"
QUOTA_RESOURCE = "odds.oddsapi.quota"
PICKS_EVENT = "odds.picks.published"
PICKS_RESOURCE = "odds.picks"
ALERT_TAG = "odds-pipeline"
DEFAULT_BLOCK = "odds-alerts"
PAID_FLOWS = ("fetch-odds", "fetch-scores", "backfill-odds-history")
BACKFILL_DUTY = timedelta(days=3, hours=6)  # the 3-day schedule plus slack for a slow run


# -- events --------------------------------------------------------------------------------------------------


def _in_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _emit(event: str, resource_id: str, name: str, payload: dict[str, Any]) -> bool:
    """Emit one event to the Prefect API in use; never fails the caller (an alert is not worth a failed run).

    Only inside a flow or task run: outside one there may be no API at all, and Prefect's events client would
    then spend a minute looking for one.
    """
    from prefect.events import emit_event

    if not _in_run():
        return False

    try:
        sent = emit_event(event=event, resource={"prefect.resource.id": resource_id,
                                                 "prefect.resource.name": name}, payload=payload)  # fmt: skip
    except Exception as exc:
        log.warning("could not emit the Prefect event %s: %s", event, type(exc).__name__)
        return False
    return sent is not None


def emit_quota_low(status: QuotaStatus, level: float, message: str) -> bool:
    """`odds.quota.low`: the quota crossed the warning fraction `level` (see `quota.quota_crossed`)."""
    payload = {"remaining": status.remaining, "used": status.used, "level": level,
               "fraction": round(status.fraction_remaining or 0.0, 4), "message": message}  # fmt: skip
    return _emit(QUOTA_EVENT, QUOTA_RESOURCE, "The Odds API quota", payload)


def _pick_line(pick: dict[str, Any]) -> str:
    clv = pick.get("expected_clv")
    shown = f"{clv:+.1%}" if isinstance(clv, int | float) else "?"
    tip = pick.get("commence_time")
    tip_text = f"{tip:%a %d %b %H:%M} UTC" if hasattr(tip, "strftime") else str(tip or "")
    side = " ".join(str(pick[k]) for k in ("market", "outcome", "point") if pick.get(k) not in (None, ""))
    teams = f"{pick.get('away_team', '')} @ {pick.get('home_team', '')}".strip(" @")
    venue = pick.get("best_venue") or pick.get("bookmaker") or ""
    return f"{teams} {side}, expected CLV {shown}, {venue}, tip-off {tip_text}".replace(" ,", ",").strip()


def emit_picks_published(picks: Sequence[dict[str, Any]], new: int) -> bool:
    """`odds.picks.published`: the predict flow recorded `new` picks not published before (`picks`: all of
    this run's picks, best first)."""
    if not picks or new <= 0:
        return False
    lines = [_pick_line(p) for p in picks[:20]]
    message = f"{new} new pick(s); this run's picks, best first:\n" + "\n".join(f"- {line}" for line in lines)
    return _emit(PICKS_EVENT, PICKS_RESOURCE, "Published picks",
                 {"count": new, "picks": lines, "message": message})  # fmt: skip


# -- automations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertSpec:
    """One automation: its name, what it is for, its trigger (as Prefect's model kwargs), its message."""

    name: str
    description: str
    trigger: dict[str, Any]
    subject: str
    body: str


_FLOW_RUN = {"prefect.resource.id": "prefect.flow-run.*"}


def _message_alert(name: str, description: str, event: str, resource_id: str, subject: str) -> AlertSpec:
    """An alert on each `event` of `resource_id` (emitted by `_emit`), mailing the event's message."""
    return AlertSpec(
        name=name,
        description=description,
        trigger={
            "posture": "Reactive",
            "expect": {event},
            "match": {"prefect.resource.id": resource_id},
            "threshold": 1,
            "within": timedelta(0),
        },
        subject=subject,
        body="{{ event.payload.message }}",
    )


AUTOMATIONS: tuple[AlertSpec, ...] = (
    AlertSpec(
        name="odds: polymarket backfill overdue",
        description="No Completed run of backfill-polymarket-history within its 3-day duty (+6 h): fine price "
        "history expires after ~30 days. Run it by hand: odds polymarket backfill.",
        trigger={
            "posture": "Proactive",
            "expect": {"prefect.flow-run.Completed"},
            "match": _FLOW_RUN,
            "match_related": {
                "prefect.resource.role": "flow",
                "prefect.resource.name": "backfill-polymarket-history",
            },
            "threshold": 1,
            "within": BACKFILL_DUTY,
        },
        subject="odds-pipeline: the Polymarket backfill is overdue",
        body="No run of backfill-polymarket-history completed in the last 3 days and 6 hours. Polymarket keeps "
        "fine price history for about 30 days only: run `odds polymarket backfill` (or "
        "`prefect deployment run 'backfill-polymarket-history/backfill-polymarket-history'`).",
    ),
    _message_alert(
        "odds: quota low",
        "The Odds API quota crossed a warning fraction (QUOTA_WARN_FRACTIONS).",
        QUOTA_EVENT,
        QUOTA_RESOURCE,
        "odds-pipeline: The Odds API quota is low",
    ),
    AlertSpec(
        name="odds: paid run failed",
        description=f"A run of a paid flow ({', '.join(PAID_FLOWS)}) ended Failed, Crashed or TimedOut.",
        trigger={
            "posture": "Reactive",
            "expect": {"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"},
            "match": _FLOW_RUN,
            "match_related": {"prefect.resource.role": "flow", "prefect.resource.name": list(PAID_FLOWS)},
            "threshold": 1,
            "within": timedelta(0),
        },
        subject="odds-pipeline: a paid run failed",
        body="Flow run {{ flow_run.name }} ({{ flow.name }}) ended {{ flow_run.state.name }}: "
        "{{ flow_run.state.message }}\n{{ flow_run|ui_url }}",
    ),
    _message_alert(
        "odds: new pick",
        "The predict flow published picks not published before (each is also a paper bet).",
        PICKS_EVENT,
        PICKS_RESOURCE,
        "odds-pipeline: new pick(s)",
    ),
)


def build_automation(spec: AlertSpec, block_document_id: UUID) -> Any:
    """The Prefect `AutomationCore` of one spec, notifying the given block."""
    from prefect.events.actions import SendNotification
    from prefect.events.schemas.automations import AutomationCore, EventTrigger

    action = SendNotification(block_document_id=block_document_id, subject=spec.subject, body=spec.body)
    return AutomationCore(name=spec.name, description=spec.description, enabled=True, tags=[ALERT_TAG],
                          trigger=EventTrigger(**spec.trigger), actions=[action])  # fmt: skip


async def resolve_notification_block(client: Any, block: str) -> UUID:
    """The id of the notification block `block` (`TYPE/NAME` as `prefect block ls` shows it, or `NAME`)."""
    from prefect.exceptions import ObjectNotFound

    hint = (f"save a notification block named {block.rsplit('/', maxsplit=1)[-1]!r} first, e.g. `prefect block create "
            "slack-webhook` in the UI, or SlackWebhook(url=...).save(...) (docs/DEPLOYMENT.md, Alerts)")  # fmt: skip
    if "/" in block:
        type_slug, name = block.split("/", 1)
        try:
            found = [await client.read_block_document_by_name(name=name, block_type_slug=type_slug)]
        except ObjectNotFound:
            found = []
    else:
        found = [d for d in await client.read_block_documents(include_secrets=False) if d.name == block]
    if not found:
        raise ConfigError(f"no Prefect block {block!r} on {_api_label()}: {hint}")
    if len(found) > 1:
        kinds = ", ".join(f"{d.block_type.slug}/{d.name}" for d in found if d.block_type)
        raise ConfigError(f"several blocks are named {block!r} ({kinds}): pass --block TYPE/NAME")
    document = found[0]
    capabilities = set(document.block_schema.capabilities) if document.block_schema else set()
    if "notify" not in capabilities:
        raise ConfigError(f"block {block!r} cannot send notifications (a {document.block_type.slug} block); "
                          "use a Slack, webhook, email or other notification block")  # fmt: skip
    return document.id


def _api_label() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or "the temporary Prefect server"


async def apply_automations(block: str = DEFAULT_BLOCK) -> list[dict[str, Any]]:
    """Create or update every automation of `AUTOMATIONS` (matched by name; duplicates removed)."""
    from prefect.client.orchestration import get_client

    done = []
    async with get_client() as client:
        block_id = await resolve_notification_block(client, block)
        for spec in AUTOMATIONS:
            automation = build_automation(spec, block_id)
            existing = await client.read_automations_by_name(spec.name)
            if existing:
                keep, *extra = sorted(existing, key=lambda a: str(a.id))
                await client.update_automation(keep.id, automation)
                for duplicate in extra:
                    await client.delete_automation(duplicate.id)
                done.append({"name": spec.name, "id": str(keep.id), "action": "updated",
                             "removed_duplicates": len(extra)})  # fmt: skip
            else:
                created = await client.create_automation(automation)
                done.append(
                    {"name": spec.name, "id": str(created), "action": "created", "removed_duplicates": 0}
                )
    return done
