"""
### welfare_ingest_lao — nightly ingest of the local-authority system (LAO): 5 extracts, JSON lines with ISO dates

Loads every extract of one drop (`<sources>/lao/<YYYY-MM-DD>/`) into the warehouse's `raw`
schema; the drop date is the run's logical date in Asia/Bangkok. The Airflow UI shows the
triage notes below this text (`welfare.orchestration.dags`).
"""

from welfare.orchestration.dags import ingest_dag

dag = ingest_dag("lao", doc_md=__doc__)
