"""
### welfare_nightly — the night's chain: the three ingests, then one build of the warehouse

Scheduled at 23:30 Asia/Bangkok. The Airflow UI shows the triage notes below this text
(`welfare.orchestration.dags`).
"""

from welfare.orchestration.dags import nightly_dag

dag = nightly_dag(doc_md=__doc__)
