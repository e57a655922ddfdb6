"""
### welfare_ingest_msdhs — nightly ingest of the social-development system (MSDHS)

9 extracts, CSV in utf-8-sig with Thai headers and Buddhist-Era dates

Loads every extract of one drop (`<sources>/msdhs/<YYYY-MM-DD>/`) into the warehouse's `raw`
schema, for the drop date `welfare_nightly` gives it each night at 23:30 (or a manual trigger's
`extract_date`). The Airflow UI shows the
triage notes below this text (`welfare.orchestration.dags`).
"""

from welfare.orchestration.dags import ingest_dag

dag = ingest_dag("msdhs", doc_md=__doc__)
