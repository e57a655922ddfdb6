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


def test_a_cluster_made_with_trust_gets_passwords_at_its_next_start(tmp_path):
    """An older cluster (trust lines, a superuser without the generated password) is brought to the
    project's rules by `start`: the password set over the old trust, pg_hba.conf rewritten, reloaded."""
    import time

    import psycopg2

    wh = EmbeddedWarehouse(tmp_path / "home")
    target = wh.start()
    try:
        conn = psycopg2.connect(target.dsn)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("alter role welfare password null")
        conn.close()
        wh._write_for_server(wh.data_dir / "pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n")
        wh._run([wh._bin("pg_ctl"), "-D", str(wh.data_dir), "reload"])
        bare = {"host": "127.0.0.1", "port": target.port, "user": "welfare", "dbname": "postgres"}
        deadline = time.monotonic() + 10
        while True:  # the reload takes a moment
            try:
                psycopg2.connect(**bare).close()
                break
            except psycopg2.OperationalError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        again = wh.start()
        assert (wh.data_dir / "pg_hba.conf").read_text() == embedded.HBA
        psycopg2.connect(again.dsn).close()  # the generated password works
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg2.connect(**bare).close()
            except psycopg2.OperationalError as exc:
                assert "password" in str(exc)
                break
            assert time.monotonic() < deadline, "trust still accepted"
            time.sleep(0.2)
    finally:
        wh.stop()
        if wh.server_root != wh.root:
            import shutil

            shutil.rmtree(wh.server_root, ignore_errors=True)
