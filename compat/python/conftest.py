"""Starts a real `tessera dev` process for the redis-py tests.

The binary is TESSERA_BIN, or target/debug/tessera (built by `cargo test`).
"""

import os
import pathlib
import subprocess
import tempfile
import time

import pytest
import redis

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _binary():
    return os.environ.get("TESSERA_BIN", str(ROOT / "target" / "debug" / "tessera"))


@pytest.fixture(scope="session")
def tessera_port():
    data = tempfile.TemporaryDirectory(prefix="tessera-py-")
    log = open(os.path.join(data.name, "tessera.log"), "wb")
    proc = subprocess.Popen(
        [_binary(), "dev", "--port", "0", "--data-dir", os.path.join(data.name, "data")],
        stdout=subprocess.PIPE,
        stderr=log,
    )
    try:
        line = proc.stdout.readline().decode()
        assert line.startswith("tessera dev: listening on "), line
        port = int(line.split()[4].rsplit(":", 1)[1])
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.get("__probe__")
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "tessera dev did not start serving"
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "still running 30 s after SIGTERM"
        log.close()
        tail = _tail(os.path.join(data.name, "tessera.log"))
        data.cleanup()
        assert code == 0, f"clean shutdown exits 0, got {code}; the log ends with:\n{tail}"


def _tail(path, lines=80):
    with open(path, "rb") as f:
        return b"".join(f.readlines()[-lines:]).decode(errors="replace")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, tessera_port):
    client = redis.Redis(port=tessera_port, protocol=request.param, decode_responses=True)
    client.flushall()
    yield client
    client.close()
