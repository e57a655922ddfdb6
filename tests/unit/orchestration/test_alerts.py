"""Failure and deadline alerts reach a real SMTP sink and a real webhook receiver on 127.0.0.1, fall back to the
log without a connection, and never raise when their channel fails."""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.server
import json
import logging
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException
from welfare.orchestration import alerts

CONN_ENV = "AIRFLOW_CONN_WELFARE_ALERTS"
DAG_ID = "welfare_ingest_msdhs"
TASK_ID = "load_persons"
RUN_ID = "scheduled__2021-09-28T16:30:00+00:00"
SLOT = datetime(2021, 9, 28, 16, 30, tzinfo=UTC)  # 23:30 Asia/Bangkok
LOG_URL = f"http://airflow.example/dags/{DAG_ID}/runs/{RUN_ID}/tasks/{TASK_ID}?try_number=3"
REASON = "msdhs.persons of 2021-09-28: REJECTED schema_drift: the column birth_date is missing"


# ---------------------------------------------------------------- receivers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Inbox:
    """An aiosmtpd handler that keeps what it is given, and an authenticator that knows one login."""

    def __init__(self):
        self.envelopes = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def __call__(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"alerts", b"smtp-pw-7f3a"))


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), authenticator=inbox,
                            auth_require_tls=False)
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


class _Receiver:
    def __init__(self, status: int):
        self.status = status
        self.requests = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # a redirect followed as a GET would show here

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def json(self, i: int = -1) -> dict:
        return json.loads(self.requests[i]["body"].decode("utf-8"))


@pytest.fixture
def webhook():
    receivers = []

    def start(status: int = 204) -> _Receiver:
        r = _Receiver(status)
        r.thread.start()
        receivers.append(r)
        return r

    yield start
    for r in receivers:
        r.server.shutdown()
        r.server.server_close()


@pytest.fixture(autouse=True)
def no_alerts_connection(monkeypatch):
    for name in (CONN_ENV, alerts.NIGHT_DEADLINE_ENV, alerts.BUILD_DEADLINE_ENV, alerts.DEADLINE_ALERTS_ENV):
        monkeypatch.delenv(name, raising=False)


# ---------------------------------------------------------------- callback contexts
def failure_context(exception=None, **ti_fields) -> dict:
    """What Airflow 3's task runner hands an on_failure_callback, as far as the callback reads it."""
    ti = SimpleNamespace(dag_id=DAG_ID, task_id=TASK_ID, run_id=RUN_ID, try_number=3, map_index=-1, log_url=LOG_URL)
    for k, v in ti_fields.items():
        setattr(ti, k, v)
    dag_run = SimpleNamespace(dag_id=DAG_ID, run_id=RUN_ID, logical_date=SLOT, conf={})
    return {"ti": ti, "dag_run": dag_run, "logical_date": SLOT, "run_id": RUN_ID,
            "params": {"extract_date": None, "accept_snapshot_shrink": []},
            "exception": AirflowFailException(REASON) if exception is None else exception}


def deadline_context(*, queued_at: str = "2021-09-28T16:30:04Z", state: str = "running") -> dict:
    """What Airflow's Deadline.handle_miss gives a deadline callback: the run as the REST API shows it."""
    return {"dag_run": {"dag_run_id": RUN_ID, "dag_id": DAG_ID, "logical_date": "2021-09-28T16:30:00Z",
                        "queued_at": queued_at, "start_date": "2021-09-28T16:30:05Z", "end_date": None,
                        "run_type": "scheduled", "state": state, "conf": {}},
            "deadline": {"id": "01a23edb-2964-7d6b-a9e5-a5c062079971",
                         "deadline_time": SLOT + alerts.night_deadline_interval()}}


def _logged(caplog, level=logging.ERROR) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= level and r.name == alerts.__name__)


# ---------------------------------------------------------------- the alert's content
def test_format_alert_names_the_dag_task_run_drop_try_error_log_and_triage():
    alert = alerts.alert_for_task_failure(failure_context())
    assert alert.subject == f"[welfare] task failed: {DAG_ID}.{TASK_ID} (2021-09-28)"
    for fact in (DAG_ID, TASK_ID, RUN_ID, "2021-09-28 23:30 Asia/Bangkok", "Drop date:     2021-09-28",
                 "Try:           3", LOG_URL, f"AirflowFailException: {REASON}", "If you are paged"):
        assert fact in alert.text, fact
    assert alert.as_json() == {
        "kind": "task_failed", "subject": alert.subject, "text": alert.text, "dag_id": DAG_ID, "task_id": TASK_ID,
        "run_id": RUN_ID, "logical_date": "2021-09-28 23:30 Asia/Bangkok", "drop_date": "2021-09-28",
        "try_number": 3, "run_state": None, "deadline_time": None, "promise": None,
        "exception": f"AirflowFailException: {REASON}", "log_url": LOG_URL, "run_url": None,
        "triage": "see the DAG's docs: If you are paged"}


def test_the_drop_date_a_trigger_gives_wins_and_dags_without_one_have_none():
    ctx = failure_context()
    ctx["dag_run"].conf = {"extract_date": "2021-09-27"}
    assert alerts.alert_for_task_failure(ctx).facts["drop_date"] == "2021-09-27"
    warehouse = failure_context(dag_id="welfare_warehouse", task_id="dbt_build")
    warehouse.update(params={}, logical_date=None)
    warehouse["dag_run"].logical_date = None
    alert = alerts.alert_for_task_failure(warehouse)
    assert alert.facts["drop_date"] is None and alert.facts["logical_date"] is None
    assert alert.subject == f"[welfare] task failed: welfare_warehouse.dbt_build ({RUN_ID})"


def test_only_the_first_lines_of_the_error_are_quoted_and_known_secrets_are_redacted():
    from airflow.sdk.log import mask_secret

    mask_secret("warehouse-pw-c41d9e")
    long = RuntimeError("dbt failed\n" + "\n".join(f"line {i}" for i in range(500)) + "\npassword=warehouse-pw-c41d9e")
    text = alerts.exception_text(long)
    assert text.startswith("RuntimeError: dbt failed\nline 0\n")
    assert len(text.splitlines()) == alerts.EXCEPTION_MAX_LINES + 1 and "502 lines in all" in text
    assert "warehouse-pw-c41d9e" not in alerts.exception_text(RuntimeError("password=warehouse-pw-c41d9e"))


def test_a_task_failed_from_outside_its_process_says_so():
    """The DAG processor runs the callback of a task whose process died: the context has no exception."""
    ctx = failure_context()
    del ctx["exception"]
    assert "Error: none reported" in alerts.alert_for_task_failure(ctx).text


def test_an_unreadable_log_url_does_not_stop_the_alert():
    class TaskInstance:
        dag_id, task_id, run_id, try_number, map_index = DAG_ID, TASK_ID, RUN_ID, 1, -1

        @property
        def log_url(self):
            raise RuntimeError("no [api] base_url here")

    ctx = failure_context()
    ctx["ti"] = TaskInstance()
    alert = alerts.alert_for_task_failure(ctx)
    assert alert.facts["log_url"] is None and TASK_ID in alert.subject


# ---------------------------------------------------------------- the channels
def test_a_failure_alert_reaches_the_smtp_sink(monkeypatch, smtp_sink):
    port, inbox = smtp_sink
    monkeypatch.setenv(CONN_ENV, f"smtp://alerts:smtp-pw-7f3a@127.0.0.1:{port}"
                                 "?from=airflow%40welfare.example&to=oncall%40welfare.example,data%40welfare.example")
    alerts.on_task_failure(failure_context())

    assert inbox.logins == [(b"alerts", b"smtp-pw-7f3a")]
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "airflow@welfare.example"
    assert envelope.rcpt_tos == ["oncall@welfare.example", "data@welfare.example"]
    msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert msg["Subject"] == f"[welfare] task failed: {DAG_ID}.{TASK_ID} (2021-09-28)"
    assert msg["To"] == "oncall@welfare.example, data@welfare.example"
    body = msg.get_content()
    for fact in (DAG_ID, TASK_ID, RUN_ID, REASON, LOG_URL, "If you are paged"):
        assert fact in body, fact


def test_a_failure_alert_reaches_the_webhook_as_json(monkeypatch, webhook):
    receiver = webhook(204)
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{receiver.port}/hooks/welfare?token=hook-token-91b2")
    alerts.on_task_failure(failure_context())

    [request] = receiver.requests
    assert request["path"] == "/hooks/welfare?token=hook-token-91b2"
    assert request["headers"]["Content-Type"].startswith("application/json")
    got = receiver.json()
    assert (got["kind"], got["dag_id"], got["task_id"], got["run_id"]) == ("task_failed", DAG_ID, TASK_ID, RUN_ID)
    assert got["exception"] == f"AirflowFailException: {REASON}" and REASON in got["text"]
    assert got["drop_date"] == "2021-09-28" and got["try_number"] == 3 and got["log_url"] == LOG_URL
    assert "If you are paged" in got["triage"]


def test_without_a_connection_the_alert_is_an_error_in_the_log(caplog):
    caplog.set_level(logging.INFO, logger=alerts.__name__)
    alerts.on_task_failure(failure_context())
    logged = _logged(caplog)
    assert f"[welfare] task failed: {DAG_ID}.{TASK_ID}" in logged and REASON in logged and LOG_URL in logged
    assert "channel" not in logged
    assert alerts.send(alerts.alert_for_task_failure(failure_context())) == ("log", True, None)


def test_an_empty_connection_variable_means_no_connection(monkeypatch, caplog):
    """docker-compose passes AIRFLOW_CONN_WELFARE_ALERTS through as empty when it is not set."""
    monkeypatch.setenv(CONN_ENV, "")
    assert alerts.send(alerts.alert_for_task_failure(failure_context())) == ("log", True, None)
    assert REASON in _logged(caplog)


def test_a_webhook_answering_500_is_logged_with_the_alert_and_nothing_raises(monkeypatch, webhook, caplog):
    receiver = webhook(500)
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{receiver.port}/hooks/welfare-secret-path")
    alerts.on_task_failure(failure_context())

    assert len(receiver.requests) == 1
    logged = _logged(caplog)
    assert f"alert channel webhook http://127.0.0.1:{receiver.port} failed: HTTPError: HTTP Error 500" in logged
    assert f"ALERT (not delivered): [welfare] task failed: {DAG_ID}.{TASK_ID}" in logged and REASON in logged
    assert "welfare-secret-path" not in logged  # a webhook's path is often its secret


def test_a_redirecting_webhook_is_an_error_not_a_silent_get(monkeypatch, webhook, caplog):
    receiver = webhook(302)
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{receiver.port}/moved")
    delivery = alerts.send(alerts.alert_for_task_failure(failure_context()))
    assert not delivery.delivered and "HTTP 302, a redirect" in delivery.error
    assert [r["path"] for r in receiver.requests] == ["/moved"]  # never followed as a GET without the alert


@pytest.mark.parametrize("scheme", ["smtp", "smtps", "http"])
def test_an_unreachable_channel_is_logged_with_the_alert_and_nothing_raises(monkeypatch, caplog, scheme):
    port = _free_port()  # nothing listens there any more
    query = "?to=oncall%40welfare.example&timeout=2" if scheme.startswith("smtp") else "?timeout=2"
    monkeypatch.setenv(CONN_ENV, f"{scheme}://127.0.0.1:{port}/x{query}" if scheme == "http"
                       else f"{scheme}://127.0.0.1:{port}{query}")
    alerts.on_task_failure(failure_context())
    logged = _logged(caplog)
    assert "alert channel" in logged and "failed" in logged and "Connection refused" in logged
    assert REASON in logged


@pytest.mark.parametrize(("uri", "error"), [
    ("postgresql://user:pw@127.0.0.1:5432/welfare", "has conn_type 'postgres'"),
    ("smtp://127.0.0.1:2525", "names no recipient"),
])
def test_a_misconfigured_connection_is_logged_with_the_alert(monkeypatch, caplog, uri, error):
    monkeypatch.setenv(CONN_ENV, uri)
    delivery = alerts.send(alerts.alert_for_task_failure(failure_context()))
    assert not delivery.delivered and error in delivery.error
    assert error in _logged(caplog) and REASON in _logged(caplog)


def test_a_context_that_cannot_be_read_still_alerts_and_does_not_raise(caplog):
    alerts.on_task_failure({"ti": SimpleNamespace(dag_id=DAG_ID), "params": object()})
    logged = _logged(caplog)
    assert "ALERT" in logged and DAG_ID in logged


# ---------------------------------------------------------------- deadlines
def test_nightly_deadline_is_six_and_a_half_hours_after_the_2330_slot(monkeypatch):
    from airflow.sdk import DeadlineReference, SyncCallback

    deadline = alerts.nightly_deadline()
    assert deadline.reference == DeadlineReference.DAGRUN_LOGICAL_DATE
    assert deadline.interval == timedelta(hours=6, minutes=30)
    assert isinstance(deadline.callback, SyncCallback)
    assert deadline.callback.path == "welfare.orchestration.alerts.deadline_missed"
    assert deadline.callback.kwargs == {"which": "nightly", "promise": "the 23:30 run succeeds by 06:00 Asia/Bangkok"}

    monkeypatch.setenv(alerts.NIGHT_DEADLINE_ENV, "06:30")
    assert alerts.nightly_deadline().interval == timedelta(hours=7)
    monkeypatch.setenv(alerts.NIGHT_DEADLINE_ENV, "23:45")
    assert alerts.nightly_deadline().interval == timedelta(minutes=15)


@pytest.mark.parametrize("value", ["6", "25:00", "06:60", "six", "06:00:00", "23:30"])
def test_a_bad_night_deadline_fails_with_a_clear_message(monkeypatch, value):
    monkeypatch.setenv(alerts.NIGHT_DEADLINE_ENV, value)
    with pytest.raises(ValueError, match=alerts.NIGHT_DEADLINE_ENV) as err:
        alerts.nightly_deadline()
    assert repr(value) in str(err.value)


def test_build_deadline_counts_from_when_the_run_was_queued(monkeypatch):
    from airflow.sdk import DeadlineReference

    deadline = alerts.build_deadline()
    assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert deadline.interval == timedelta(minutes=180)
    assert deadline.callback.kwargs["which"] == "build"
    monkeypatch.setenv(alerts.BUILD_DEADLINE_ENV, "45")
    assert alerts.build_deadline().interval == timedelta(minutes=45)
    for bad in ("0", "-5", "3h", ""):
        monkeypatch.setenv(alerts.BUILD_DEADLINE_ENV, bad)
        if bad == "":
            assert alerts.build_deadline().interval == timedelta(minutes=180)  # empty: the default
            continue
        with pytest.raises(ValueError, match=alerts.BUILD_DEADLINE_ENV):
            alerts.build_deadline()


def test_deadlines_can_be_switched_off_where_no_scheduler_watches_them(monkeypatch):
    monkeypatch.setenv(alerts.DEADLINE_ALERTS_ENV, "off")
    assert alerts.nightly_deadline() is None and alerts.build_deadline() is None
    monkeypatch.setenv(alerts.DEADLINE_ALERTS_ENV, "maybe")
    with pytest.raises(ValueError, match=alerts.DEADLINE_ALERTS_ENV):
        alerts.nightly_deadline()


def test_the_triggerer_variant_is_an_awaitable_top_level_function():
    from importlib import import_module

    from airflow.sdk import AsyncCallback

    for make in (alerts.nightly_deadline, alerts.build_deadline):
        callback = make(runs_on="triggerer").callback
        assert isinstance(callback, AsyncCallback)
        module, name = callback.path.rsplit(".", 1)
        assert asyncio.iscoroutinefunction(getattr(import_module(module), name))
    with pytest.raises(ValueError, match="runs_on"):
        alerts.nightly_deadline(runs_on="scheduler")


def test_a_dag_takes_the_deadlines_and_the_failure_callback_through_serialization():
    import pendulum
    from airflow.sdk import dag, task
    from airflow.serialization.serialized_objects import DagSerialization

    @dag(dag_id="alerts_wiring", schedule=None, start_date=pendulum.datetime(2016, 10, 1, tz="Asia/Bangkok"),
         default_args={"owner": "t", "on_failure_callback": alerts.on_task_failure},
         deadline=[alerts.nightly_deadline(), alerts.build_deadline(runs_on="triggerer")])
    def wiring():
        @task
        def noop() -> None:
            pass

        noop()

    d = wiring()
    assert d.tasks[0].on_failure_callback == [alerts.on_task_failure]
    back = DagSerialization.from_dict(DagSerialization.to_dict(d))
    callbacks = [a["callback"]["__data__"] for a in back.deadline]
    assert [c["path"] for c in callbacks] == ["welfare.orchestration.alerts.deadline_missed",
                                              "welfare.orchestration.alerts.deadline_missed_async"]
    assert [c["kwargs"]["which"] for c in callbacks] == ["nightly", "build"]


def test_a_missed_deadline_reaches_the_webhook(monkeypatch, webhook):
    receiver = webhook(200)
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{receiver.port}/hooks/welfare")
    kwargs = alerts.nightly_deadline().callback.kwargs
    assert alerts.deadline_missed(context=deadline_context(), **kwargs) == "alert sent via webhook"

    got = receiver.json()
    assert got["kind"] == "deadline_missed" and got["dag_id"] == DAG_ID and got["run_id"] == RUN_ID
    assert got["subject"] == f"[welfare] deadline missed: {DAG_ID} (2021-09-28)"
    assert got["deadline_time"] == "2021-09-29 06:00 Asia/Bangkok" and got["run_state"] == "running"
    assert got["drop_date"] == "2021-09-28" and "by 06:00 Asia/Bangkok" in got["text"]
    assert "If you are paged" in got["text"]


def test_a_missed_deadline_reaches_the_smtp_sink_from_the_triggerer_variant(monkeypatch, smtp_sink):
    port, inbox = smtp_sink
    monkeypatch.setenv(CONN_ENV, f"smtp://127.0.0.1:{port}?to=oncall%40welfare.example")
    ctx = deadline_context(queued_at="2021-09-29T01:00:00Z", state="queued")  # the warehouse: no logical date
    ctx["dag_run"].update(dag_id="welfare_warehouse", logical_date=None, run_type="asset_triggered")
    ctx["deadline"]["deadline_time"] = "2021-09-29T04:00:00+00:00"
    result = asyncio.run(alerts.deadline_missed_async(context=ctx, **alerts.build_deadline().callback.kwargs))

    assert result == "alert sent via smtp"
    msg = email.message_from_bytes(inbox.envelopes[0].original_content, policy=email.policy.default)
    assert msg["Subject"] == f"[welfare] deadline missed: welfare_warehouse ({RUN_ID})"
    body = msg.get_content()
    assert "within 180 minutes of being queued" in body and "Run state:     queued" in body
    assert "2021-09-29 11:00 Asia/Bangkok" in body


def test_a_deadline_that_passed_before_the_run_was_queued_is_not_alerted(monkeypatch, webhook, caplog):
    """A backfill (or a re-run) of an old night: Airflow marks its deadline missed at once."""
    receiver = webhook(204)
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{receiver.port}/hooks/welfare")
    caplog.set_level(logging.WARNING, logger=alerts.__name__)
    result = alerts.deadline_missed(context=deadline_context(queued_at="2026-01-05T03:00:00Z"), which="nightly")
    assert result.startswith("not alerted") and receiver.requests == []
    assert "had passed before the run was queued" in _logged(caplog, logging.WARNING)


def test_a_deadline_callback_with_a_failing_channel_does_not_raise(monkeypatch, webhook, caplog):
    receiver = webhook(503)
    monkeypatch.setenv(CONN_ENV, f"http://127.0.0.1:{receiver.port}/hooks/welfare")
    assert alerts.deadline_missed(context=deadline_context(), which="nightly").startswith("alert channel webhook failed")
    assert alerts.deadline_missed(context={"dag_run": "not a mapping"}).startswith("alert channel webhook failed")
    assert f"[welfare] deadline missed: {DAG_ID}" in _logged(caplog)


def test_the_triage_notes_name_each_alert():
    nightly, build = alerts.triage_doc("nightly"), alerts.triage_doc("build")
    for doc in (nightly, build, alerts.triage_doc()):
        assert "[welfare] task failed" in doc and "welfare_alerts" in doc and "alert channel" in doc
    assert "by 06:00 Asia/Bangkok" in nightly and "180 minutes after it was queued" in build


def test_importing_the_module_imports_no_mail_or_heavy_library():
    code = ("import sys, welfare.orchestration.alerts\n"
            "print(','.join(m for m in ('smtplib', 'email.mime', 'great_expectations', 'dbt', 'psycopg2', 'polars')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
