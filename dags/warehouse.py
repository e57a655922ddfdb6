"""
### welfare_warehouse — build the linked central welfare warehouse (dbt)

Once a night, when `welfare_nightly` has seen the three ingests of the night finish (or by hand for a
drop date): `plan` names any system that did not deliver (the build runs on what is current);
`dbt_build` runs one `dbt build` (models, snapshots, seeds, tests) into the generation readers do not
see (`marts_blue` or `marts_green`), its output streamed into its log, each node mirrored by a task of
the `dbt` group (shown in the Airflow UI, run in the triggerer, no worker); `publish` switches the readers' views (`marts.*`,
`restricted.*`) to it in one transaction, only once every node and test passed; `dbt_docs` writes the
dbt docs (lineage from each dashboard and indicator back to its source extracts) under
`$WELFARE_HOME/dbt/target/index.html`. The marts, above all `marts.kpi_values` (every strategy
indicator for the province and its 15 districts by fiscal year), are what the BI tools read; the
snapshots (`snapshots.snp_*`) record each night's state of every snapshot-kind registry (SCD 2).

**If you are paged**: open the `dbt_build` log; dbt names the failing model or
test. A failing test means the data broke a promise of the warehouse: look at
the rows it returns (`dbt test --select <test> --store-failures`) before
re-running. Nothing was published: readers keep the last good night, unchanged, until a build passes.
A red task in the `dbt` group is that node or one of its tests (its log has dbt's lines for it);
skipped ones were not run after the first failure (`--fail-fast`). `PublishBlocked`: readers held
the marts' locks past `WELFARE_PUBLISH_LOCK_TIMEOUT_SECONDS` on every attempt; the log names their
sessions; clear `publish` once they are gone.
`dbt runs without the pseudonym key`: the worker has neither `WELFARE_PSEUDONYM_KEY` nor
`$WELFARE_HOME/secrets/pseudonym.key`; restore the key from the secret store (a new key would
change every person_key: that is `welfare rotate-key`). `permission denied`: the connection
`welfare_transformer` is not the transformer role, or `welfare warehouse setup` has not run.
"""

from welfare.orchestration.dags import warehouse_dag

dag = warehouse_dag(doc_md=__doc__)
