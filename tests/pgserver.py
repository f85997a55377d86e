"""A real PostgreSQL server for the tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

The binaries are found on PATH (``initdb``, ``pg_ctl``) or under Debian's
``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so when the tests run
as root (CI does) the server runs as an unprivileged user: ``postgres`` when it exists (Debian's
package creates it), else ``dq-pgtest``, created with ``useradd --system`` if missing. The data
folder is chowned to that user. The server listens on 127.0.0.1 at a free port and on a Unix
socket inside its folder; its superuser is ``dq`` with the password ``PG_PASSWORD`` (md5/scram
auth over TCP, so the tests exercise real password checks).

Where the binaries are missing the tests that need the server are skipped with that reason,
except when the environment variable ``CI`` is set: then they fail.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_USER = "dq"
PG_PASSWORD = "s3cret-pw"  # test-only password of a throwaway server on loopback
UNPRIVILEGED = ("postgres", "dq-pgtest")


def find_binaries() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(cand, "initdb").exists() and Path(cand, "pg_ctl").exists():
            return Path(cand)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> str | None:
    """None when not root (run as ourselves), else an unprivileged user (created if missing)."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", UNPRIVILEGED[-1]],
        check=True,
    )
    return UNPRIVILEGED[-1]


@dataclass
class PgServer:
    bindir: Path
    folder: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, db: str = "dq", password: bool = False) -> str:
        auth = f"{PG_USER}:{PG_PASSWORD}@" if password else f"{PG_USER}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{db}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd=self.folder)

    def init(self) -> None:
        self.data.mkdir(parents=True)
        pwfile = self.folder / "pw"
        pwfile.write_text(PG_PASSWORD + "\n")
        if self.user:
            subprocess.run(["chown", "-R", self.user, str(self.folder)], check=True)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            PG_USER,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        pwfile.unlink()

    def start(self) -> None:
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.folder / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def psql(self, sql: str, db: str = "dq") -> str:
        """Run SQL as the superuser over the Unix socket (trusted), return stdout."""
        psql = self.bindir / "psql"
        exe = str(psql) if psql.exists() else (shutil.which("psql") or "psql")
        cmd = [
            exe,
            "-h",
            str(self.folder),
            "-p",
            str(self.port),
            "-U",
            PG_USER,
            "-d",
            db,
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            sql,
        ]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def start_server() -> PgServer:
    bindir = find_binaries()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL binaries (initdb, pg_ctl) not found")
    folder = Path(tempfile.mkdtemp(prefix="dq-pg-"))
    folder.chmod(0o755)
    server = PgServer(bindir, folder, free_port(), _server_user())
    server.init()
    server.start()
    for _ in range(50):
        if server.is_running():
            break
        time.sleep(0.1)
    server.psql("CREATE DATABASE dq", db="postgres")
    return server


def remove(server: PgServer) -> None:
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)
