"""Failure and deadline alerts of the welfare DAGs, through one channel chosen by one Airflow connection.

The connection ``welfare_alerts`` (``AIRFLOW_CONN_WELFARE_ALERTS`` in a deployment) decides where an alert goes:

- ``smtp://user:pass@host:port?from=airflow@example.org&to=a@example.org,b@example.org`` mails it (smtplib);
  ``&starttls=true`` upgrades the connection, ``smtps://`` (or ``&ssl=true``) speaks TLS from the start;
- ``http://`` or ``https://`` POSTs it as JSON to that URL (the query string kept, ``timeout`` in seconds taken out);
  a ``text`` field carries the whole message, so chat webhooks that read ``text`` show it as it is;
- no such connection: the alert is an ERROR line in the log of whatever ran the callback, and nothing else.

A channel that fails never raises out of a callback: its error and the alert itself go to the log at ERROR.

What raises an alert:

- ``on_task_failure``: the ``on_failure_callback`` of ``default_args``. Airflow 3's task runner calls it in the
  task's own process once the task has failed for good (retries exhausted, or ``AirflowFailException``); a task
  whose process died is failed by the scheduler and the DAG processor calls it there.
- ``nightly_deadline()`` / ``build_deadline()``: the ``@dag(deadline=...)`` of the ingest DAGs (the 23:30 run has
  not succeeded by ``WELFARE_NIGHT_DEADLINE``, default 06:00 Asia/Bangkok) and of the warehouse DAG (a build has not
  succeeded ``WELFARE_BUILD_DEADLINE_MINUTES``, default 180, after it was queued). Their callback
  ``deadline_missed`` runs on the executor (``SyncCallback``), or ``deadline_missed_async`` on the triggerer
  (``AsyncCallback``), both referenced by import path. ``WELFARE_DEADLINE_ALERTS=off`` gives no deadline, for
  ``airflow dags test`` (``welfare run``), where no scheduler watches them.

Imported by the DAG factory at parse time: only Airflow's SDK and the standard library at the top; smtplib, ssl and
urllib.request are imported when an alert is sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference, SyncCallback

from welfare.settings import LOCAL_TZ

log = logging.getLogger(__name__)

ALERTS_CONN_ID = "welfare_alerts"
TRIAGE_POINTER = "see the DAG's docs: If you are paged"

# The ingest DAGs run on the cron "30 23 * * *" in Asia/Bangkok (welfare.orchestration.dags); their logical date is
# that 23:30 slot, so the night's deadline is an interval after it. Bangkok keeps no daylight saving time: the
# interval is the same every night.
NIGHTLY_SCHEDULE_AT = time(23, 30)
NIGHT_DEADLINE_ENV = "WELFARE_NIGHT_DEADLINE"
DEFAULT_NIGHT_DEADLINE = "06:00"
BUILD_DEADLINE_ENV = "WELFARE_BUILD_DEADLINE_MINUTES"
DEFAULT_BUILD_DEADLINE_MINUTES = 180
# "off" where no scheduler watches the deadlines: `welfare run` (`airflow dags test` of past drop dates). Airflow
# 3.3.2's `dags test` also fails at the end of every successful run of a DAG that has a deadline (DagRun.update_state
# looks the DAG's deadline alerts up by id, and `dags test`'s in-memory DAG holds their definitions instead).
DEADLINE_ALERTS_ENV = "WELFARE_DEADLINE_ALERTS"

EXCEPTION_MAX_LINES = 20
EXCEPTION_MAX_CHARS = 4000
SMTP_TIMEOUT_S = 30.0
WEBHOOK_TIMEOUT_S = 10.0
# The keys of a webhook connection's extra that configure the channel; every other key is the URL's query.
_WEBHOOK_OPTIONS = ("timeout",)

RunsOn = Literal["executor", "triggerer"]


class AlertChannelError(Exception):
    """The alert channel is misconfigured or refused the alert."""


# ---------------------------------------------------------------- the alert
@dataclass(frozen=True)
class Alert:
    """One alert: a subject line, a plain-text body, and the same facts by name (the webhook's JSON)."""

    kind: str  # "task_failed" | "deadline_missed"
    subject: str
    text: str
    facts: dict[str, str | int | None] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "text": self.text, **self.facts}


def format_alert(*, kind: str = "task_failed", dag_id: str | None, task_id: str | None = None,
                 run_id: str | None = None, logical_date: datetime | str | None = None,
                 drop_date: date | str | None = None, try_number: int | None = None,
                 exception: BaseException | str | None = None, log_url: str | None = None,
                 run_state: str | None = None, deadline_time: datetime | str | float | None = None,
                 promise: str | None = None, run_url: str | None = None) -> Alert:
    """The alert of a failed task (``kind="task_failed"``) or of a missed deadline (``"deadline_missed"``), from plain
    values: what is unknown is left out of the text and null in the JSON."""
    dag = dag_id or "unknown DAG"
    drop = str(drop_date) if drop_date else None
    error = exception_text(exception) if exception is not None else None
    when = drop or run_id or "no run id"
    if kind == "deadline_missed":
        subject = f"[welfare] deadline missed: {dag} ({when})"
        headline = f"Deadline missed: {dag} has not succeeded in time" + (f"; expected: {promise}" if promise else "")
    else:
        subject = f"[welfare] task failed: {dag}.{task_id or 'unknown task'} ({when})"
        headline = f"Task failed: {dag}.{task_id or 'unknown task'}"
    facts: dict[str, str | int | None] = {
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": run_id,
        "logical_date": local_time(logical_date),
        "drop_date": drop,
        "try_number": try_number,
        "run_state": run_state,
        "deadline_time": local_time(deadline_time),
        "promise": promise,
        "exception": error,
        "log_url": log_url,
        "run_url": run_url,
        "triage": TRIAGE_POINTER,
    }
    labels = {"dag_id": "DAG", "task_id": "Task", "run_id": "Run", "logical_date": "Logical date",
              "drop_date": "Drop date", "try_number": "Try", "run_state": "Run state", "deadline_time": "Deadline",
              "log_url": "Log", "run_url": "Run in Airflow", "triage": "Triage"}
    lines = [headline, ""]
    lines += [f"{label + ':':<14} {facts[key]}" for key, label in labels.items() if facts[key] not in (None, "")]
    if error:
        lines += ["", "Error:", *("  " + line for line in error.splitlines())]
    elif kind == "task_failed":
        lines += ["", "Error: none reported. The task was failed from outside its process (killed, out of memory, "
                      "its heartbeat lost, or it could not start): its log may end abruptly or be missing."]
    return Alert(kind=kind, subject=subject, text="\n".join(lines) + "\n", facts=facts)


def exception_text(exception: BaseException | str) -> str:
    """The exception's type and message, its first lines only, with the secrets Airflow masks redacted."""
    if isinstance(exception, BaseException):
        message = str(exception)
        text = f"{type(exception).__name__}: {message}" if message else type(exception).__name__
    else:
        text = str(exception)
    text = _redact(text)
    lines = text.splitlines() or [""]
    cut = "\n".join(lines[:EXCEPTION_MAX_LINES])
    if len(cut) > EXCEPTION_MAX_CHARS:
        cut = cut[:EXCEPTION_MAX_CHARS]
    if cut != text:
        cut += f"\n... (cut: {len(lines)} lines in all; the task's log has the rest)"
    return cut


def local_time(value: datetime | str | float | None) -> str | None:
    """A moment as 'YYYY-MM-DD HH:MM Asia/Bangkok' (naive or numeric values are UTC, as Airflow keeps them)."""
    moment = _as_datetime(value)
    if moment is None:
        return None if value in (None, "") else str(value)
    return moment.astimezone(ZoneInfo(LOCAL_TZ)).strftime(f"%Y-%m-%d %H:%M {LOCAL_TZ}")


# ---------------------------------------------------------------- from Airflow's callback contexts
def alert_for_task_failure(context: Mapping[str, Any]) -> Alert:
    """The alert of the task instance a failure callback's context names (Airflow 3's task-sdk: ``ti``,
    ``dag_run``, ``exception``, ``logical_date``, ``params``); reads attributes only."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = _attr(ti, "dag_id") or _attr(dag_run, "dag_id") or _attr(context.get("dag"), "dag_id")
    logical_date = context.get("logical_date") or _attr(dag_run, "logical_date")
    map_index = _attr(ti, "map_index")
    task_id = _attr(ti, "task_id")
    if task_id and isinstance(map_index, int) and map_index >= 0:
        task_id = f"{task_id}[{map_index}]"
    return format_alert(
        kind="task_failed",
        dag_id=dag_id,
        task_id=task_id,
        run_id=_attr(ti, "run_id") or _attr(dag_run, "run_id") or context.get("run_id"),
        logical_date=logical_date,
        drop_date=_drop_date(context.get("params"), _attr(dag_run, "conf"), logical_date,
                             from_logical_date="extract_date" in (context.get("params") or {})),
        try_number=_attr(ti, "try_number"),
        exception=context.get("exception"),
        log_url=_attr(ti, "log_url"),
    )


def alert_for_missed_deadline(context: Mapping[str, Any] | None, which: str = "nightly",
                              promise: str | None = None) -> Alert | None:
    """The alert of a missed deadline from the context Airflow gives a deadline callback: ``{"dag_run": <the
    run as the REST API shows it>, "deadline": {"id", "deadline_time"}}``. None when the deadline had already
    passed when the run was queued (a backfill or a re-run of an old date): that is not a late night."""
    context = context or {}
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    deadline_time = _as_datetime(deadline.get("deadline_time"))
    queued_at = _as_datetime(dag_run.get("queued_at"))
    dag_id, run_id = dag_run.get("dag_id"), dag_run.get("dag_run_id") or dag_run.get("run_id")
    if deadline_time and queued_at and deadline_time <= queued_at:
        log.warning("deadline of %s run %s (%s) had passed before the run was queued (%s): a backfill or a re-run "
                    "of an old date, not alerted", dag_id, run_id, local_time(deadline_time), local_time(queued_at))
        return None
    return format_alert(
        kind="deadline_missed",
        dag_id=dag_id,
        run_id=run_id,
        logical_date=dag_run.get("logical_date"),
        drop_date=_drop_date(None, dag_run.get("conf"), dag_run.get("logical_date"),
                             from_logical_date=which == "nightly"),
        run_state=_state(dag_run.get("state")),
        deadline_time=deadline.get("deadline_time"),
        promise=promise,
        run_url=_run_url(dag_id, run_id),
    )


def on_task_failure(context: Mapping[str, Any]) -> None:
    """``default_args["on_failure_callback"]``: the failed task's alert through the channel. Never raises."""
    try:
        alert = alert_for_task_failure(context)
    except Exception as exc:  # a context we cannot read still pages, with what we have
        log.exception("could not read the failed task's context; alerting with what is known")
        alert = format_alert(kind="task_failed", dag_id=str(_attr(context.get("ti"), "dag_id") or "unknown DAG"),
                             exception=f"(the alert's context could not be read: {type(exc).__name__}: {exc})")
    send(alert)


def deadline_missed(context: Mapping[str, Any] | None = None, which: str = "nightly", promise: str | None = None,
                    **kwargs: Any) -> str:
    """The deadline callback on the executor (``SyncCallback``): Airflow passes the callback's kwargs and
    ``context``. Never raises; returns what was done (Airflow records it as the callback's output)."""
    alert = _deadline_alert(context, which, promise)
    return "not alerted (deadline passed before the run was queued)" if alert is None else send(alert).summary


async def deadline_missed_async(context: Mapping[str, Any] | None = None, which: str = "nightly",
                                promise: str | None = None, **kwargs: Any) -> str:
    """The same on the triggerer (``AsyncCallback``): the connection is read with Airflow's async lookup and the
    blocking send runs in a thread, off the triggerer's event loop."""
    alert = _deadline_alert(context, which, promise)
    return "not alerted (deadline passed before the run was queued)" if alert is None else (await asend(alert)).summary


def _deadline_alert(context, which, promise) -> Alert | None:
    try:
        return alert_for_missed_deadline(context, which, promise)
    except Exception as exc:
        log.exception("could not read the missed deadline's context; alerting with what is known")
        return format_alert(kind="deadline_missed", dag_id=None, promise=promise,
                            exception=f"(the alert's context could not be read: {type(exc).__name__}: {exc})")


# ---------------------------------------------------------------- the deadlines
def night_deadline_interval(value: str | None = None) -> timedelta:
    """From the 23:30 slot to ``value`` ("HH:MM" Asia/Bangkok; default ``$WELFARE_NIGHT_DEADLINE`` or 06:00), the
    next time that clock time comes round."""
    raw = value if value is not None else (os.environ.get(NIGHT_DEADLINE_ENV) or DEFAULT_NIGHT_DEADLINE)
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", raw)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"{NIGHT_DEADLINE_ENV} must be a local time HH:MM in {LOCAL_TZ} (e.g. {DEFAULT_NIGHT_DEADLINE}),"
                         f" not {raw!r}")
    minutes = (int(m[1]) * 60 + int(m[2]) - (NIGHTLY_SCHEDULE_AT.hour * 60 + NIGHTLY_SCHEDULE_AT.minute)) % (24 * 60)
    if minutes == 0:
        raise ValueError(f"{NIGHT_DEADLINE_ENV}={raw!r} is the nightly schedule's own time "
                         f"({NIGHTLY_SCHEDULE_AT:%H:%M}); give the time by which the night's run must have finished")
    return timedelta(minutes=minutes)


def build_deadline_interval(value: str | None = None) -> timedelta:
    """``value`` (default ``$WELFARE_BUILD_DEADLINE_MINUTES`` or 180) whole minutes after the build was queued."""
    raw = value if value is not None else (os.environ.get(BUILD_DEADLINE_ENV) or str(DEFAULT_BUILD_DEADLINE_MINUTES))
    try:
        minutes = int(raw.strip())
    except ValueError:
        minutes = 0
    if minutes <= 0:
        raise ValueError(f"{BUILD_DEADLINE_ENV} must be a whole number of minutes above 0 "
                         f"(e.g. {DEFAULT_BUILD_DEADLINE_MINUTES}), not {raw!r}")
    return timedelta(minutes=minutes)


def deadline_alerts_enabled() -> bool:
    """``$WELFARE_DEADLINE_ALERTS``: on (the default) or off."""
    raw = os.environ.get(DEADLINE_ALERTS_ENV, "on")
    value = raw.strip().lower()
    if value in ("on", "1", "true", "yes"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ValueError(f"{DEADLINE_ALERTS_ENV} must be on or off, not {raw!r}")


def nightly_deadline(*, runs_on: RunsOn = "executor") -> DeadlineAlert | None:
    """``@dag(deadline=...)`` of an ingest DAG: its run of the 23:30 slot (the logical date) alerts unless it has
    succeeded by ``$WELFARE_NIGHT_DEADLINE`` (default 06:00) Asia/Bangkok. A run without a logical date (a manual
    trigger that gives none) gets no deadline: Airflow skips it. None (no deadline) when
    ``$WELFARE_DEADLINE_ALERTS`` is off."""
    interval = night_deadline_interval()
    until = _clock_after(interval)
    return _deadline(runs_on, "nightly", DeadlineReference.DAGRUN_LOGICAL_DATE, interval,
                     promise=f"the {NIGHTLY_SCHEDULE_AT:%H:%M} run succeeds by {until} {LOCAL_TZ}",
                     name=f"nightly chain by {until} {LOCAL_TZ}")


def build_deadline(*, runs_on: RunsOn = "executor") -> DeadlineAlert | None:
    """``@dag(deadline=...)`` of the warehouse DAG: its runs (triggered by the nightly chain, or by hand) may have
    no logical date, so the clock starts when the run is queued; it alerts unless the build has succeeded
    ``$WELFARE_BUILD_DEADLINE_MINUTES`` (default 180) minutes later. None when ``$WELFARE_DEADLINE_ALERTS`` is off."""
    interval = build_deadline_interval()
    minutes = int(interval.total_seconds() // 60)
    return _deadline(runs_on, "build", DeadlineReference.DAGRUN_QUEUED_AT, interval,
                     promise=f"the build succeeds within {minutes} minutes of being queued",
                     name=f"warehouse build within {minutes} min")


def _deadline(runs_on: RunsOn, which: Literal["nightly", "build"], reference, interval: timedelta, *, promise: str,
              name: str) -> DeadlineAlert | None:
    callback = _callback(runs_on, which=which, promise=promise)  # validates runs_on even when alerts are off
    if not deadline_alerts_enabled():
        return None
    return DeadlineAlert(reference=reference, interval=interval, callback=callback, name=name)


def triage_doc(deadline: Literal["nightly", "build"] | None = None) -> str:
    """The alerts' triage notes for a DAG's ``doc_md`` (after its "If you are paged" notes): which alerts the DAG
    raises, where they go, and what each asks of whoever is paged."""
    notes = [
        "",
        "**Alerts** (the Airflow connection `welfare_alerts`: `smtp://`/`smtps://` mails them, `http(s)://` posts "
        "them as JSON; without it they are ERROR lines in the log only)",
        "- `[welfare] task failed: <dag>.<task> (<drop date or run>)`: the task failed on its last try (retries used "
        "up, or a data problem, which is never retried). The alert quotes the error's first lines and links the "
        "task's log: triage it by the task's name with the notes above. A task stopped by its `execution_timeout` "
        "says `AirflowTaskTimeout`: the last lines of its log say what it was doing. `Error: none reported`: the "
        "task's process died (killed, out of memory) or never started; look at the worker.",
    ]
    if deadline == "nightly":
        notes.append(
            f"- `[welfare] deadline missed: <dag> (<drop date>)`: the run of the {NIGHTLY_SCHEDULE_AT:%H:%M} slot had "
            f"not succeeded by {_deadline_clock()} {LOCAL_TZ} (`{NIGHT_DEADLINE_ENV}`). `Run state: running`: find "
            "the task still running or deferred in the run's grid: usually an ingest's `wait_for_drop` still "
            "waiting for a late drop (ask the system's owners), a load, or the build; readers keep the last "
            "published night meanwhile. `Run state: failed`: a task alert came first; triage that one. "
            "Backfills and re-runs of old dates are not alerted.")
    elif deadline == "build":
        notes.append(
            "- `[welfare] deadline missed: welfare_warehouse (<run>)`: a build had not succeeded "
            f"{_build_minutes()} minutes after it was queued "
            f"(`{BUILD_DEADLINE_ENV}`). `running`: open `dbt_build`'s log; the last model it started is the one "
            "still running. `queued`: an earlier build still holds the DAG's one active run. `failed`: a task "
            "alert came first; triage that one. The marts keep their previous build meanwhile.")
    notes.append(
        "- `alert channel ... failed` in a log: the alert could not be delivered and is printed beneath it; "
        "fix the connection `welfare_alerts` (host, port, recipients, URL).")
    return "\n".join(notes) + "\n"


def _deadline_clock() -> str:
    try:
        return _clock_after(night_deadline_interval())
    except ValueError:
        return f"${NIGHT_DEADLINE_ENV}"


def _build_minutes() -> str:
    try:
        return str(int(build_deadline_interval().total_seconds() // 60))
    except ValueError:
        return f"${BUILD_DEADLINE_ENV}"


def _clock_after(interval: timedelta) -> str:
    """The clock time (HH:MM) ``interval`` after the nightly slot."""
    return (datetime.combine(date(2000, 1, 1), NIGHTLY_SCHEDULE_AT) + interval).strftime("%H:%M")


def _callback(runs_on: RunsOn, **kwargs: str) -> SyncCallback | AsyncCallback:
    if runs_on == "executor":
        return SyncCallback(deadline_missed, kwargs=kwargs)
    if runs_on == "triggerer":
        return AsyncCallback(deadline_missed_async, kwargs=kwargs)
    raise ValueError(f"runs_on must be 'executor' or 'triggerer', not {runs_on!r}")


# ---------------------------------------------------------------- the channel
@dataclass(frozen=True)
class Channel:
    kind: Literal["log", "smtp", "webhook"]
    conn: Any = None  # airflow.sdk.Connection

    def describe(self) -> str:
        """Where the channel goes, without credentials, path or query (a webhook's path often is its secret)."""
        if self.kind == "log":
            return "the log"
        if self.kind == "smtp":
            where = f"{self.conn.host or 'localhost'}" + (f":{self.conn.port}" if self.conn.port else "")
            return f"smtp {where} to {', '.join(_addresses(self.conn.extra_dejson.get('to'))) or '(no recipient)'}"
        from urllib.parse import urlsplit

        url = urlsplit(webhook_url(self.conn))
        return f"webhook {url.scheme}://{url.hostname}" + (f":{url.port}" if url.port else "")


class Delivery(NamedTuple):
    channel: str  # "log" | "smtp" | "webhook"
    delivered: bool
    error: str | None = None

    @property
    def summary(self) -> str:
        return f"alert sent via {self.channel}" if self.delivered else f"alert channel {self.channel} failed: {self.error}"


def channel_of(conn: Any) -> Channel:
    kind = (conn.conn_type or "").lower()
    if kind in ("smtp", "smtps"):
        return Channel("smtp", conn)
    if kind in ("http", "https"):
        return Channel("webhook", conn)
    raise AlertChannelError(f"the connection {ALERTS_CONN_ID} has conn_type {conn.conn_type!r}; alerts go by "
                            "smtp://, smtps://, http:// or https://")


def resolve_channel() -> Channel:
    """The channel the connection ``welfare_alerts`` names; the log when there is no such connection."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        return Channel("log")
    return channel_of(conn)


async def aresolve_channel() -> Channel:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = await Connection.async_get(ALERTS_CONN_ID)
    except AirflowNotFoundException:
        return Channel("log")
    return channel_of(conn)


def send(alert: Alert, channel: Channel | None = None) -> Delivery:
    """Send ``alert`` through ``channel`` (default: the connection's). Never raises: a failing channel's error and
    the alert go to the log at ERROR."""
    try:
        channel = channel or resolve_channel()
    except Exception as exc:
        return _fall_back(alert, "connection", f"the connection {ALERTS_CONN_ID} could not be used: "
                                               f"{type(exc).__name__}: {exc}")
    return deliver(alert, channel)


async def asend(alert: Alert) -> Delivery:
    try:
        channel = await aresolve_channel()
    except Exception as exc:
        return _fall_back(alert, "connection", f"the connection {ALERTS_CONN_ID} could not be used: "
                                               f"{type(exc).__name__}: {exc}")
    return await asyncio.to_thread(deliver, alert, channel)


def deliver(alert: Alert, channel: Channel) -> Delivery:
    if channel.kind == "log":
        log.error("ALERT (no connection %s, so the log only): %s\n%s", ALERTS_CONN_ID, alert.subject, alert.text)
        return Delivery("log", True)
    try:
        where = channel.describe()
        if channel.kind == "smtp":
            _send_email(alert, channel.conn)
        else:
            _post_webhook(alert, channel.conn)
    except Exception as exc:
        return _fall_back(alert, channel.kind, f"{type(exc).__name__}: {_redact(str(exc))}", channel)
    log.info("alert sent via %s: %s", where, alert.subject)
    return Delivery(channel.kind, True)


def _fall_back(alert: Alert, channel_kind: str, error: str, channel: Channel | None = None) -> Delivery:
    try:
        where = channel.describe() if channel else channel_kind
    except Exception:
        where = channel_kind
    log.error("alert channel %s failed: %s", where, error)
    log.error("ALERT (not delivered): %s\n%s", alert.subject, alert.text)
    return Delivery(channel_kind, False, error)


def _send_email(alert: Alert, conn: Any) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    extra = conn.extra_dejson
    recipients = _addresses(extra.get("to"))
    if not recipients:
        raise AlertChannelError(f"the connection {ALERTS_CONN_ID} names no recipient: add ?to=a@example.org,b@example.org")
    sender = extra.get("from") or conn.login or "welfare-airflow@localhost"
    msg = EmailMessage()
    msg["Subject"] = alert.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="welfare.alerts")
    msg.set_content(alert.text)
    timeout = _timeout(extra, SMTP_TIMEOUT_S)
    host = conn.host or "localhost"
    if conn.conn_type.lower() == "smtps" or _true(extra.get("ssl")):
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, conn.port or 465, timeout=timeout,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, conn.port or 25, timeout=timeout)
    with client:
        if _true(extra.get("starttls")):
            client.starttls(context=ssl.create_default_context())
        if conn.login:
            client.login(conn.login, conn.password or "")
        refused = client.send_message(msg, from_addr=sender, to_addrs=recipients)
    if refused:
        log.error("alert mail refused for %s", ", ".join(sorted(refused)))


def webhook_url(conn: Any) -> str:
    """The URL a connection ``http(s)://host:port/path?query`` was given as (Airflow keeps the path as ``schema``
    and the query as ``extra``); a host holding a whole URL, as the UI's form allows, is taken as it is."""
    from urllib.parse import quote, urlencode

    host = conn.host or ""
    if "://" in host:
        url = host.rstrip("/")
    else:
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"  # IPv6
        url = f"{conn.conn_type.lower()}://{host}" + (f":{conn.port}" if conn.port else "")
    if conn.schema:
        url += "/" + quote(conn.schema.lstrip("/"), safe="/:@!$&'()*+,;=-._~%")
    query = {k: v for k, v in conn.extra_dejson.items() if k not in _WEBHOOK_OPTIONS}
    if query:
        url += ("&" if "?" in url else "?") + urlencode(query, doseq=True)
    return url


def _post_webhook(alert: Alert, conn: Any) -> None:
    import base64
    import urllib.request

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        # urllib would turn a redirected POST into a GET without the alert and call that a success
        def redirect_request(self, req, fp, code, msg, headers, newurl):
            raise AlertChannelError(f"the webhook answered HTTP {code}, a redirect: give the connection the final URL")

    body = json.dumps(alert.as_json(), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(webhook_url(conn), data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8",
                                              "User-Agent": "welfare-alerts"})
    if conn.login:
        token = base64.b64encode(f"{conn.login}:{conn.password or ''}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(_NoRedirect)
    with opener.open(request, timeout=_timeout(conn.extra_dejson, WEBHOOK_TIMEOUT_S)) as response:
        status = response.status
        response.read(65536)
    if not 200 <= status < 300:
        raise AlertChannelError(f"the webhook answered HTTP {status}")


# ---------------------------------------------------------------- small helpers
def _attr(obj: Any, name: str) -> Any:
    """An attribute of a context object (or a key of a dict), None when missing or when reading it fails (a
    property such as ``ti.log_url`` may need configuration a test or a callback process lacks)."""
    if obj is None:
        return None
    try:
        return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    except Exception:
        return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _drop_date(params: Any, conf: Any, logical_date: Any, *, from_logical_date: bool) -> str | None:
    """The drop an ingest run loads: the ``extract_date`` given at trigger, else the logical date in Bangkok."""
    for source in (conf, params):
        given = _attr(source, "extract_date") if source else None
        if given:
            return str(given)
    moment = _as_datetime(logical_date) if from_logical_date else None
    return moment.astimezone(ZoneInfo(LOCAL_TZ)).date().isoformat() if moment else None


def _run_url(dag_id: str | None, run_id: str | None) -> str | None:
    if not dag_id or not run_id:
        return None
    try:
        from urllib.parse import quote

        from airflow.sdk.configuration import conf

        base = conf.get("api", "base_url", fallback=None)
    except Exception:
        return None
    return f"{base.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id)}" if base else None


def _state(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _addresses(value: Any) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list | tuple) else re.split(r"[,;]", str(value))
    return [a.strip() for a in items if a and a.strip()]


def _true(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


def _timeout(extra: Mapping[str, Any], default: float) -> float:
    try:
        return float(extra.get("timeout", default))
    except (TypeError, ValueError):
        return default


def _redact(text: str) -> str:
    """The secrets Airflow knows in this process (connection passwords, masked variables) replaced by ***."""
    try:
        from airflow.sdk.log import redact

        return str(redact(text))
    except Exception:
        return text
