"""The dbt build, visible in Airflow: one ``dbt build``, its output streamed, each node mirrored.

One task (the producer) runs ``dbt build`` once, with dbt's own threads, and streams its output into
the task log line by line as dbt writes it. It reads dbt's structured log (``--log-format json``)
as it goes; when a model, seed, snapshot or test finishes, it writes that node's result (status,
message, the node's log lines) to ``$WELFARE_HOME/dbt/nodes/<run>/<unique_id>.json``, and
``_done.json`` when dbt exits.

The UI gets one task per model, seed and snapshot, wired as dbt's graph is, with the node's tests
attached (``DbtNodeOperator``). Such a task starts in the triggerer and ends there
(``start_from_trigger`` and a task end event): it takes no worker slot and starts no process.
Its trigger waits for the node's result files and writes them into the task's log, then ends the
task as success, failed (the model or one of its tests failed) or skipped (dbt did not run it,
e.g. after ``--fail-fast``). The mirror tasks decide nothing: the build's outcome is the
producer's, and publishing waits on the producer alone.

The node list comes from dbt's manifest (``write_node_list`` after ``dbt parse``, which
``welfare up`` runs) and is read when the DAG is parsed. Without it the warehouse DAG has no
mirror tasks (``welfare run`` does not need them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.triggers.base import BaseTrigger, StartTriggerArgs, TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent

log = logging.getLogger(__name__)

RESULT_EVENTS = {"LogModelResult", "LogTestResult", "LogSnapshotResult", "LogSeedResult", "LogNodeResult",
                 "LogSkipBecauseError", "SkippingDetails", "LogNodeNoOpResult"}
MIRRORED = ("model", "seed", "snapshot")
FAILED = {"error", "fail", "runtime error"}
KNOWN = FAILED | {"success", "pass", "warn", "skipped", "no-op"}
DONE = "_done.json"


def welfare_home() -> Path:
    from welfare.settings import welfare_home as home

    return home()


def node_list_file(home: Path | None = None) -> Path:
    return (home or welfare_home()) / "dbt" / "nodes.json"


def results_dir(run_key: str, home: Path | None = None) -> Path:
    return (home or welfare_home()) / "dbt" / "nodes" / safe_name(run_key)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)[:200]


# ---------------------------------------------------------------- the node list (at DAG parse time)
def node_list_from_manifest(manifest: dict) -> list[dict]:
    """Models, seeds and snapshots of the project, each with its upstream nodes (of those kinds) and
    its tests: a test belongs to the node it is attached to, else to its most downstream parent."""
    nodes = {uid: n for uid, n in manifest["nodes"].items()
             if n["resource_type"] in MIRRORED and n.get("package_name") == manifest["metadata"].get("project_name",
                                                                                                       n.get("package_name"))}
    out = {uid: {"unique_id": uid, "name": n["name"], "resource_type": n["resource_type"],
                 "upstream": sorted(d for d in n["depends_on"].get("nodes", []) if d in nodes), "tests": []}
           for uid, n in nodes.items()}
    depth: dict[str, int] = {}

    def depth_of(uid: str) -> int:  # the longest path from a root: a test of several models waits for the last
        if uid not in depth:
            depth[uid] = 1 + max((depth_of(u) for u in out[uid]["upstream"]), default=0)
        return depth[uid]

    for uid, n in manifest["nodes"].items():
        if n["resource_type"] != "test":
            continue
        owner = n.get("attached_node")
        if owner not in out:
            parents = [d for d in n["depends_on"].get("nodes", []) if d in out]
            owner = max(parents, key=lambda d: (depth_of(d), d)) if parents else None
        if owner:
            out[owner]["tests"].append(uid)
    for n in out.values():
        n["tests"].sort()
    return sorted(out.values(), key=lambda n: n["unique_id"])


def write_node_list(manifest_path: Path, home: Path | None = None) -> Path:
    nodes = node_list_from_manifest(json.loads(Path(manifest_path).read_text()))
    path = node_list_file(home)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_json(path, nodes)
    return path


def read_node_list(home: Path | None = None) -> list[dict]:
    if os.environ.get("WELFARE_DBT_NODE_TASKS", "1") == "0":
        return []
    try:
        return json.loads(node_list_file(home).read_text())
    except (OSError, ValueError):
        return []


# ---------------------------------------------------------------- the producer: run dbt, stream, record
class NodeRecorder:
    """Collects each node's lines from dbt's JSON log and writes a node's result when it finishes."""

    def __init__(self, run_key: str | None, home: Path | None = None):
        self.dir = results_dir(run_key, home) if run_key else None
        self.lines: dict[str, list[str]] = {}
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            for old in self.dir.glob("*.json"):  # a rerun of the same Airflow run starts afresh
                old.unlink()

    def feed(self, event: dict) -> None:
        info, data = event.get("info", {}), event.get("data", {})
        node = data.get("node_info") or {}
        uid = node.get("unique_id")
        if not uid:
            return
        self.lines.setdefault(uid, []).append(info.get("msg", ""))
        if info.get("name") in RESULT_EVENTS and self.dir:
            # node_info's status is dbt's verdict (success, error, pass, fail, warn, skipped); a model's
            # own "status" field is the adapter's answer ("INSERT 0 3014")
            verdict = str(node.get("node_status") or "").lower()
            status = verdict if verdict in KNOWN else str(data.get("status") or verdict).lower()
            if info.get("name") in {"LogSkipBecauseError", "SkippingDetails"}:
                status = "skipped"
            result = {"unique_id": uid, "status": status, "message": info.get("msg", ""),
                      "execution_time": data.get("execution_time"), "lines": self.lines.get(uid, [])}
            _write_json(self.dir / f"{safe_name(uid)}.json", result)

    def done(self, returncode: int) -> None:
        if self.dir:
            _write_json(self.dir / DONE, {"returncode": returncode, "finished_at": time.time()})

    @staticmethod
    def finish(run_key: str, home: Path | None = None) -> None:
        """The build task ended (dbt may never have started): a mirror still waiting then ends as skipped."""
        folder = results_dir(run_key, home)
        if folder.is_dir() and not (folder / DONE).exists():
            _write_json(folder / DONE, {"returncode": None, "finished_at": time.time()})
        elif not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
            _write_json(folder / DONE, {"returncode": None, "finished_at": time.time()})


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, ensure_ascii=False)
    os.replace(tmp, path)  # a reader sees the whole file or none


def stream_dbt(cmd: list[str], env: dict[str, str], cwd: Path, run_key: str | None = None,
               echo: Callable[[str], None] | None = None) -> int:
    """Run dbt with its JSON log on stdout; each line's text goes to ``echo`` (the task log) as it comes."""
    echo = echo or (lambda line: log.info("dbt | %s", line))
    recorder = NodeRecorder(run_key)
    cmd = [cmd[0], "--log-format", "json", *cmd[1:]]
    env = {**env, "DBT_USE_COLORS": "false", "DBT_USE_COLORS_FILE": "false"}  # plain text in the task log
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            raw = raw.rstrip("\n")
            try:
                event = json.loads(raw)
            except ValueError:
                echo(raw)  # not JSON (a traceback, a warning of a library): as it is
                continue
            echo(event.get("info", {}).get("msg", raw))
            recorder.feed(event)
        rc = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        recorder.done(-9)
        raise
    recorder.done(rc)
    return rc


# ---------------------------------------------------------------- the mirrors: one task per node, in the triggerer
def outcome(node: str, tests: list[str], results: dict[str, dict], finished: bool) -> str | None:
    """success, failed or skipped once known; None while dbt is still running the node or its tests."""
    mine = [results.get(u) for u in [node, *tests]]
    if any(r and r["status"] in FAILED for r in mine):
        return "failed"
    if all(r is not None for r in mine):
        return "skipped" if mine[0]["status"] == "skipped" else "success"
    if finished:
        return "skipped" if mine[0] is None or mine[0]["status"] == "skipped" else "success_untested"
    return None


class NodeResultTrigger(BaseTrigger):
    """Waits for one dbt node's result (and its tests') from the producer, then ends the task."""

    def __init__(self, unique_id: str, tests: list[str], run_id: str = "", poke_s: float = 2.0,
                 home: str | None = None):
        super().__init__()
        self.unique_id, self.tests, self.run_id, self.poke_s, self.home = unique_id, list(tests), run_id, poke_s, home

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return ("welfare.orchestration.dbt_nodes.NodeResultTrigger",
                {"unique_id": self.unique_id, "tests": self.tests, "run_id": self.run_id, "poke_s": self.poke_s,
                 "home": self.home})

    def _run_id(self) -> str:
        if self.run_id and "{{" not in self.run_id:
            return self.run_id
        return self.task_instance.run_id

    def _read(self, folder: Path) -> tuple[dict[str, dict], bool]:
        results = {}
        for uid in [self.unique_id, *self.tests]:
            p = folder / f"{safe_name(uid)}.json"
            if p.exists():
                try:
                    results[uid] = json.loads(p.read_text())
                except ValueError:
                    pass  # being replaced: read again at the next poke
        return results, (folder / DONE).exists()

    async def run(self) -> AsyncIterator:
        folder = results_dir(self._run_id(), Path(self.home) if self.home else None)
        self.log.info("waiting for dbt's result of %s (%d tests) in %s", self.unique_id, len(self.tests), folder)
        while True:
            results, finished = await asyncio.to_thread(self._read, folder)
            state = outcome(self.unique_id, self.tests, results, finished)
            if state:
                for uid in [self.unique_id, *self.tests]:
                    r = results.get(uid)
                    if r is None:
                        self.log.info("%s: not run by dbt", uid)
                        continue
                    self.log.info("%s: %s", uid, r["status"].upper())
                    for line in r.get("lines", []):
                        self.log.info("  %s", line)
                if state == "failed":
                    yield TaskFailedEvent()
                elif state == "skipped":
                    yield TaskSkippedEvent()
                else:
                    yield TaskSuccessEvent()
                return
            await asyncio.sleep(self.poke_s)


class DbtNodeOperator(BaseOperator):
    """A dbt node as an Airflow task: starts and ends in the triggerer, never on a worker."""

    template_fields = ("run_id",)
    ui_color = "#fde8d8"
    start_from_trigger = True
    start_trigger_args = StartTriggerArgs(
        trigger_cls="welfare.orchestration.dbt_nodes.NodeResultTrigger",
        trigger_kwargs={},
        next_method="execute_complete",
        next_kwargs=None,
        timeout=None,
    )

    def __init__(self, *, unique_id: str, tests: list[str], timeout_s: int = 6 * 3600, **kwargs):
        import dataclasses
        from datetime import timedelta

        super().__init__(**kwargs)
        self.unique_id, self.tests, self.run_id = unique_id, tests, "{{ run_id }}"
        self.start_trigger_args = dataclasses.replace(
            self.start_trigger_args,
            trigger_kwargs={"unique_id": unique_id, "tests": tests, "run_id": "{{ run_id }}"},
            timeout=timedelta(seconds=timeout_s))

    def execute(self, context) -> None:  # only if a worker ever runs it (start_from_trigger off)
        self.defer(trigger=NodeResultTrigger(self.unique_id, self.tests, context["run_id"]),
                   method_name="execute_complete")

    def execute_complete(self, context, event=None) -> None:
        return None
