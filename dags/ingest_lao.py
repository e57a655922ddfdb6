"""
### welfare_ingest_lao — nightly ingest of the local-authority system (LAO): 5 extracts, JSON lines with ISO dates

Loads every extract of one drop (`<sources>/lao/<YYYY-MM-DD>/`) into the warehouse's `raw`
schema, for the drop date `welfare_nightly` gives it each night at 23:30 (or a manual trigger's
`extract_date`). The Airflow UI shows the
triage notes below this text (`welfare.orchestration.dags`).
"""

from welfare.orchestration.dags import ingest_dag

dag = ingest_dag("lao", doc_md=__doc__)
