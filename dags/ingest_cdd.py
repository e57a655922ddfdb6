"""
### welfare_ingest_cdd — nightly ingest of the community-development system (CDD)

With the Basic Minimum Needs survey: 6 extracts, CSV in cp874 with Thai headers and Buddhist-Era dates

Loads every extract of one drop (`<sources>/cdd/<YYYY-MM-DD>/`) into the warehouse's `raw`
schema, for the drop date `welfare_nightly` gives it each night at 23:30 (or a manual trigger's
`extract_date`). The Airflow UI shows the
triage notes below this text (`welfare.orchestration.dags`).
"""

from welfare.orchestration.dags import ingest_dag

dag = ingest_dag("cdd", doc_md=__doc__)
