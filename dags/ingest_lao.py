"""
### welfare_ingest_lao — nightly ingest of the local-authority system (LAO): 5 extracts, JSON lines with ISO dates

Loads every extract of one drop (`<sources>/lao/<YYYY-MM-DD>/`) into the warehouse's `raw`
schema; the drop date is the run's logical date in Asia/Bangkok.
"""

from welfare.airflow_factory import ingest_dag

dag = ingest_dag("lao", doc_md=__doc__)
