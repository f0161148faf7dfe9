"""PostgreSQL's cluster setup: passwords over TCP, trust only over the stack's own socket."""

from __future__ import annotations

from pathlib import Path

from iot_platform.stack.postgres import initdb_command


def test_initdb_trusts_the_local_socket_and_asks_passwords_over_tcp() -> None:
    cmd = initdb_command(Path("/usr/lib/postgresql/17/bin"), Path("/state/data/postgres"))
    assert cmd[0] == "/usr/lib/postgresql/17/bin/initdb"
    assert "--auth-local=trust" in cmd and "--auth-host=scram-sha-256" in cmd
    assert cmd[cmd.index("-D") + 1] == "/state/data/postgres"
    assert cmd[cmd.index("-U") + 1] == "postgres"
