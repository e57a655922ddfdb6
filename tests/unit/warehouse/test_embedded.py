"""The embedded warehouse: found, started and stopped idempotently, or a clear message."""

import pytest
from welfare.warehouse import embedded
from welfare.warehouse.embedded import EmbeddedWarehouse, WarehouseError


def test_no_server_binaries_gives_one_clear_message(monkeypatch):
    monkeypatch.delenv("WELFARE_PG_BINDIR", raising=False)
    monkeypatch.setattr(embedded.shutil, "which", lambda name: None)
    monkeypatch.setattr(embedded.glob, "glob", lambda pattern: [])
    with pytest.raises(WarehouseError) as e:
        embedded.find_bindir()
    assert "apt-get install postgresql" in str(e.value) and "WELFARE_PG_BINDIR" in str(e.value)


def test_start_and_stop_are_idempotent_and_a_restart_reuses_the_cluster(tmp_path):
    import psycopg2

    wh = EmbeddedWarehouse(tmp_path / "home")
    assert not wh.running()
    wh.stop()  # stopping what never ran is fine
    target = wh.start()
    assert wh.running()
    assert wh.start() == target  # second start: same cluster, same port
    with psycopg2.connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute("create table kept (x int); insert into kept values (42)")
    wh.stop()
    wh.stop()
    assert not wh.running()
    target2 = wh.start()
    assert target2.port == target.port
    with psycopg2.connect(target2.dsn) as conn, conn.cursor() as cur:
        cur.execute("select x from kept")
        assert cur.fetchone() == (42,)
    wh.stop()
    if wh.server_root != wh.root:
        import shutil

        shutil.rmtree(wh.server_root, ignore_errors=True)
