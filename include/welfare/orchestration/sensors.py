"""Waiting for a drop without holding a worker: a deferrable operator and its trigger.

``DropSensor`` looks once for the drop's ``_manifest.json`` (the source systems write it last). If
it is not there, the task defers to ``DropTrigger``: the triggerer, not a worker slot, holds the
wait and polls the folder. The trigger ends with one event: the drop is complete, it arrived under
a folder not named YYYY-MM-DD, or the deadline passed. The task then resumes on a worker for a
moment, returns the folder or fails with a message that names the system and the date.

The deadline is absolute (``time.time()`` seconds), fixed when the task first defers, so a
triggerer restart does not extend it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

# How long a night's ingest waits for its drop before it fails; the nightly chain then builds on
# what is current and says which system is missing.
DROP_WAIT_SECONDS_DEFAULT = 4 * 3600
POKE_SECONDS_DEFAULT = 30.0


def drop_wait_seconds() -> int:
    from welfare.settings import whole_number

    return whole_number(os.environ.get("WELFARE_DROP_WAIT_SECONDS", str(DROP_WAIT_SECONDS_DEFAULT)),
                        "WELFARE_DROP_WAIT_SECONDS", "seconds")


def poke_seconds() -> float:
    return float(os.environ.get("WELFARE_DROP_POKE_SECONDS", str(POKE_SECONDS_DEFAULT)))


def drop_state(sources: str, system: str, extract_date: str) -> dict[str, Any] | None:
    """What the folder says now: None (still waiting), complete or misnamed."""
    from welfare import ingest
    from welfare.ingest.drops import misnamed_drop

    d = date.fromisoformat(extract_date)
    if ingest.drop_complete(Path(sources), system, d):
        return {"status": "complete", "folder": str(ingest.drop_folder(Path(sources), system, d))}
    misnamed = misnamed_drop(Path(sources), system, d)
    if misnamed:
        return {"status": "misnamed", "folder": misnamed}
    return None


def failure_message(event: dict[str, Any]) -> str:
    system, d = event["system"], event["extract_date"]
    if event["status"] == "misnamed":
        return (f"the {system} drop for {d} arrived as {system}/{event['folder']}/, but drop folders are named "
                f"YYYY-MM-DD: ask the {system} system's owners to deliver it as {system}/{d}/ (or rename it), then "
                "clear this task")
    return (f"no complete {system} drop for {d} after waiting {event['waited_s']}s: "
            f"{event['expected']} never appeared. Ask the {system} system's owners whether the export ran; once "
            "the drop is complete, clear this task (the night's build ran on what was current without it)")


class DropTrigger(BaseTrigger):
    """Polls ``<sources>/<system>/<date>/_manifest.json`` in the triggerer until it exists or the deadline."""

    def __init__(self, sources: str, system: str, extract_date: str, deadline: float, started: float,
                 poke_s: float = POKE_SECONDS_DEFAULT):
        super().__init__()
        self.sources, self.system, self.extract_date = sources, system, extract_date
        self.deadline, self.started, self.poke_s = float(deadline), float(started), float(poke_s)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("welfare.orchestration.sensors.DropTrigger",
                {"sources": self.sources, "system": self.system, "extract_date": self.extract_date,
                 "deadline": self.deadline, "started": self.started, "poke_s": self.poke_s})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        base = {"system": self.system, "extract_date": self.extract_date}
        while True:
            state = await asyncio.to_thread(drop_state, self.sources, self.system, self.extract_date)
            if state:
                self.log.info("%s drop for %s: %s (%s)", self.system, self.extract_date, state["status"], state["folder"])
                yield TriggerEvent({**base, **state})
                return
            now = time.time()
            if now >= self.deadline:
                expected = str(Path(self.sources) / self.system / self.extract_date / "_manifest.json")
                yield TriggerEvent({**base, "status": "timeout", "expected": expected,
                                    "waited_s": int(now - self.started)})
                return
            await asyncio.sleep(max(0.05, min(self.poke_s, self.deadline - now)))


class DropSensor(BaseOperator):
    """Waits for one system's drop of the run's date; deferrable, so the wait holds no worker slot."""

    ui_color = "#e8f1fa"

    def __init__(self, *, system: str, **kwargs):
        super().__init__(**kwargs)
        self.system = system

    def execute(self, context) -> str:
        from airflow.sdk.exceptions import AirflowFailException

        from welfare.orchestration import tasks

        try:
            sources, extract_date = tasks.run_params(context)
        except tasks.DataProblem as exc:
            raise AirflowFailException(str(exc)) from exc
        d = extract_date.isoformat()
        state = drop_state(str(sources), self.system, d)
        if state:
            return self.execute_complete(context, {"system": self.system, "extract_date": d, **state})
        started = time.time()
        wait_s = drop_wait_seconds()
        self.log.info("the %s drop for %s is not complete yet: deferring to the triggerer for up to %ss",
                      self.system, d, wait_s)
        self.defer(trigger=DropTrigger(str(sources), self.system, d, deadline=started + wait_s, started=started,
                                       poke_s=poke_seconds()),
                   method_name="execute_complete")
        raise AssertionError("unreachable: defer raises")  # pragma: no cover

    def execute_complete(self, context, event: dict[str, Any]) -> str:
        from airflow.sdk.exceptions import AirflowFailException

        if event["status"] == "complete":
            return event["folder"]
        raise AirflowFailException(failure_message(event))
