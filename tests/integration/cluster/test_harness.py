"""ops/cluster.py itself: a synchronous standby really holds what the primary committed
before the commit returns, a promoted standby takes writes, and nginx runs the shipped
configuration in front of the given hosts. The other cluster tests stand on these."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ops.cluster import Nginx, render_nginx_conf, start_primary, start_standby


@pytest.mark.committing
def test_a_synchronous_standby_streams_applies_and_is_promoted(tmp_path: Path) -> None:
    with (
        start_primary(tmp_path / "primary", synchronous=True, archive=tmp_path / "wal") as primary,
        start_standby(primary, tmp_path / "standby", synchronous=True) as standby,
    ):
        assert primary.sql("SELECT application_name || ' ' || sync_state FROM pg_stat_replication") == (
            "standby sync"
        )
        assert standby.in_recovery() and not primary.in_recovery()
        primary.sql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        # remote_apply: the commit returned only once the standby had replayed it.
        assert standby.sql("SELECT count(*) FROM t") == "1"
        primary.sql("SELECT pg_switch_wal()")
        primary.stop("immediate")
        standby.promote()
        standby.sql("INSERT INTO t VALUES (2)")  # no synchronous standby named: does not wait
        assert standby.sql("SELECT count(*) FROM t") == "2"
        assert any(p.name.startswith("0000000100") for p in (tmp_path / "wal").iterdir())


def test_nginx_renders_the_shipped_file_changing_only_ports_hosts_and_paths(tmp_path: Path) -> None:
    shipped = (Path(__file__).resolve().parents[3] / "ops/deploy/nginx/market.conf").read_text()
    rendered = render_nginx_conf(
        ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"], port=9000, root=tmp_path
    )
    changed = {line.strip() for line in rendered.splitlines()} - {
        line.strip() for line in shipped.splitlines()
    }
    assert changed == {
        "server 127.0.0.1:9001 max_fails=2 fail_timeout=10s;",
        "server 127.0.0.1:9002 max_fails=2 fail_timeout=10s;",
        "server 127.0.0.1:9003 max_fails=2 fail_timeout=10s;",
        "listen 127.0.0.1:9000;",
        f"access_log {tmp_path}/market.access.log;",
        f"error_log {tmp_path}/market.error.log warn;",
    }
    with Nginx(tmp_path / "nginx", ["127.0.0.1:1"]) as proxy:  # nothing listens there
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(proxy.url + "/healthz", timeout=10)
        assert answer.value.code == 502
