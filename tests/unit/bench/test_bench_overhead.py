"""dbt's overhead in `make bench-warehouse` is wall time minus the time the server was busy with the
build's SQL: the union of the logged statement intervals, not their sum (two dbt threads overlap)."""

from bench.warehouse import busy_intervals, union_seconds

LOG = """\
2026-11-29 04:38:35.500 UTC [8263] LOG:  duration: 500.000 ms  statement: select 1
2026-11-29 04:38:36.000 UTC [8264] LOG:  duration: 1000.000 ms  statement: create table x as
\tselect 2
2026-11-29 04:38:36.100 UTC [8263] LOG:  checkpoint starting: time
2026-11-29 04:38:40.000 UTC [8263] LOG:  duration: 2000.000 ms  statement: select 3
"""


def test_statement_intervals_from_the_server_log():
    spans = busy_intervals(LOG)
    assert len(spans) == 3  # the checkpoint line and the statement's continuation line are not statements
    assert [(e - s).total_seconds() for s, e in spans] == [0.5, 1.0, 2.0]


def test_overlapping_statements_count_once():
    spans = busy_intervals(LOG)
    # 35.0-35.5 lies inside 35.0-36.0; 38.0-40.0 is apart: 1 s + 2 s, not 3.5 s
    assert union_seconds(spans) == 3.0
    assert union_seconds([]) == 0.0


def test_the_two_builds_are_compared_node_by_node_and_by_type():
    from bench.nightly import compare_nodes, node_seconds

    night = node_seconds({"results": [{"unique_id": "snapshot.welfare.snp_a", "execution_time": 170.0},
                                      {"unique_id": "model.welfare.m", "execution_time": 20.0},
                                      {"unique_id": "model.welfare.n", "execution_time": 2.0},
                                      {"unique_id": "test.welfare.t", "execution_time": 1.0}]})
    plain = node_seconds({"results": [{"unique_id": "snapshot.welfare.snp_a", "execution_time": 30.0},
                                      {"unique_id": "model.welfare.m", "execution_time": 15.0},
                                      {"unique_id": "model.welfare.n", "execution_time": 3.0},
                                      {"unique_id": "test.welfare.t", "execution_time": 1.5}]})
    split = compare_nodes(night, plain)
    assert split["by_type"] == {"model": {"night_s": 22.0, "plain_s": 18.0},
                                "snapshot": {"night_s": 170.0, "plain_s": 30.0},
                                "test": {"night_s": 1.0, "plain_s": 1.5}}
    assert split["slowest_differences"][0] == {"node": "snapshot.welfare.snp_a", "night_s": 170.0, "plain_s": 30.0}
    assert split["slowest_differences"][1]["node"] == "model.welfare.m"
