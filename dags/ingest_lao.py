"""
### welfare_ingest_lao — nightly ingest of the local-authority system (LAO)

Loads every extract of one LAO drop (`<sources>/lao/<YYYY-MM-DD>/`) into
the warehouse's `raw` schema: manifest check (rows, sha256), Thai headers,
Buddhist-Era dates, Great Expectations validation, row-level quarantine,
COPY, all in one transaction per file. The drop date is the run's logical
date in Asia/Bangkok.

**If you are paged**
- `wait_for_drop` failed: the drop's `_manifest.json` never appeared. Ask the
  LAO system owners whether the export ran; clear the task once it is there.
- a `load_<extract>` task failed: open its log. `REJECTED` names the file and
  the reason (manifest mismatch, schema drift, encoding) — the file is kept
  under `$WELFARE_HOME/quarantine/files/`; a threshold breach names the share
  of rows quarantined — read them in `audit.quarantine` (rule and message per
  row). The rows that passed are loaded; the previous state of a rejected
  snapshot stands. Fix at the source and re-send; a re-sent identical file is
  skipped, a corrected one loads.
"""

from welfare.airflow_factory import ingest_dag

dag = ingest_dag("lao", doc_md=__doc__)
