"""redis-py against Tessera: the string, hash, set, keyspace, expiry, connection and
transaction surface, in RESP2 and RESP3, including pipelines (transactional and not) and scan_iter."""

import pytest
import redis


def test_strings(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == "v"
    assert r.set("n", "1", ex=100) is True
    assert 98 <= r.ttl("n") <= 100
    assert r.set("n", "2", keepttl=True) is True
    assert r.ttl("n") > 0
    assert r.setnx("k", "x") is False
    assert r.execute_command("SETEX", "e", 100, "v") in (True, "OK")
    assert r.psetex("p", 100000, "v") is True
    assert r.getset("k", "z") == "w"
    assert r.getdel("k") == "z"
    assert r.get("k") is None
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "missing", "b") == ["1", None, "2"]
    assert r.msetnx({"a": "x", "c": "3"}) is False
    assert r.append("a", "23") == 3
    assert r.strlen("a") == 3
    assert r.incr("counter") == 1
    assert r.incrby("counter", 10) == 11
    assert r.decr("counter") == 10
    assert r.decrby("counter", 4) == 6
    assert r.incrbyfloat("f", 10.5) == 10.5
    assert r.incrbyfloat("f", 0.1) == pytest.approx(10.6)
    assert r.get("f") == "10.6"
    r.set("s", "This is a string")
    assert r.getrange("s", 0, 3) == "This"
    assert r.getrange("s", -3, -1) == "ing"
    assert r.setrange("s", 0, "THAT") == 16
    assert r.get("s") == "THAT is a string"
    r.set("l1", "ohmytext")
    r.set("l2", "mynewtext")
    assert r.lcs("l1", "l2") == "mytext"
    assert r.getex("e", persist=True) == "v"
    assert r.ttl("e") == -1


def test_errors_keep_redis_texts(r):
    r.set("s", "text")
    with pytest.raises(redis.ResponseError, match="value is not an integer or out of range"):
        r.incr("s")
    with pytest.raises(redis.ResponseError, match="invalid expire time in 'set' command"):
        r.set("x", "v", ex=0)
    with pytest.raises(redis.ResponseError, match="unknown command 'NOPE'"):
        r.execute_command("NOPE", "a")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get' command"):
        r.execute_command("GET")
    assert r.ping() is True


def test_keyspace(r):
    r.mset({"k1": "a", "k2": "b", "k3": "c"})
    assert r.exists("k1", "k2", "nope") == 2
    assert r.type("k1") == "string"
    assert r.type("nope") == "none"
    assert r.delete("k1", "nope") == 1
    assert r.unlink("k2") == 1
    assert r.touch("k3", "nope") == 1
    assert r.rename("k3", "k4") is True
    assert r.renamenx("k4", "k5") is True
    assert r.copy("k5", "k6") is True
    assert sorted(r.keys("k*")) == ["k5", "k6"]
    assert r.randomkey() in ("k5", "k6")
    assert r.dbsize() == 2
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename("missing", "x")


def test_expiry(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert r.expire("k", 50, gt=True) is False
    assert r.expire("k", 50, lt=True) is True
    assert 0 < r.pttl("k") <= 50_000
    assert r.expireat("k", 4102444800) is True
    assert r.expiretime("k") == 4102444800
    assert r.pexpiretime("k") == 4102444800000
    assert r.persist("k") is True
    assert r.persist("k") is False
    assert r.pexpire("k", 100_000) is True
    assert r.expire("k", -1) is True
    assert r.get("k") is None


def test_scan_iter_returns_every_key_once_sorted(r):
    keys = [f"user:{i:04}" for i in range(1500)]
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, "v")
    pipe.set("other", "v")
    pipe.execute()
    scanned = list(r.scan_iter(match="user:*", count=100))
    assert scanned == keys
    assert sorted(r.scan_iter(count=1000)) == sorted(keys + ["other"])


def test_pipelines_and_transactions(r):
    pipe = r.pipeline(transaction=False)
    pipe.set("a", 1).incr("a").get("a").get("missing")
    assert pipe.execute() == [True, 2, "2", None]
    with r.pipeline() as tx:  # MULTI/EXEC
        tx.set("b", 10).incrby("b", 5).get("b")
        assert tx.execute() == [True, 15, "15"]
    with r.pipeline() as tx:
        tx.watch("b")
        r.set("b", 0)  # another client changes the watched key
        tx.multi()
        tx.incr("b")
        with pytest.raises(redis.WatchError):
            tx.execute()
    assert r.get("b") == "0"


def test_connection_and_server(r):
    assert r.ping() is True
    assert r.echo("hello") == "hello"
    assert r.client_setname("py-client") is True
    assert r.client_getname() == "py-client"
    assert isinstance(r.client_id(), int)
    info = r.info()
    assert info["redis_version"].startswith("7.0")
    assert info["cluster_enabled"] == 0
    assert r.info("keyspace") == {} or "db0" in r.info("keyspace")
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    assert len(r.time()) == 2
    assert r.flushall() is True
    assert r.dbsize() == 0


def test_tables_scan_iter_over_four_ranges(r):
    assert r.execute_command("CREATETABLE", "stocks", "SPLITS", "e", "j", "o") in (b"OK", "OK", True)
    try:
        keys = [f"stocks:{chr(ord('a') + i % 26)}{i:05}" for i in range(20_000)]
        for start in range(0, len(keys), 2_000):
            pipe = r.pipeline(transaction=False)
            for key in keys[start:start + 2_000]:
                pipe.set(key, "v")
            pipe.execute()
        r.set("stocks0", "a default-table key next to the table's")
        scanned = list(r.scan_iter(match="stocks:*", count=500))
        assert scanned == sorted(keys), "every key exactly once, in byte order"
        everything = list(r.scan_iter(count=700))
        assert everything == sorted(keys + ["stocks0"])
        assert r.dbsize() == 20_001
        info = r.execute_command("TABLE", "INFO", "stocks")
        flat = info if isinstance(info, list) else [x for kv in info.items() for x in kv]
        ranges = flat[flat.index("ranges") + 1]
        assert len(ranges) == 4
    finally:
        r.execute_command("DROPTABLE", "stocks")
    assert r.get("stocks:a00000") is None


def test_hashes(r):
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "c", "3") == 1
    assert r.hget("h", "a") == "1"
    assert r.hgetall("h") == {"a": "1", "b": "2", "c": "3"}
    assert r.hmget("h", ["a", "zz", "c"]) == ["1", None, "3"]
    assert r.hlen("h") == 3
    assert r.hexists("h", "b") and not r.hexists("h", "zz")
    assert r.hincrby("h", "a", 5) == 6
    assert r.hincrbyfloat("h", "f", 1.5) == 1.5
    assert r.hsetnx("h", "a", "x") == 0
    assert r.hstrlen("h", "a") == 1
    assert sorted(r.hkeys("h")) == ["a", "b", "c", "f"]
    assert r.hdel("h", "b", "zz") == 1
    assert dict(r.hscan_iter("h", match="[af]")) == {"a": "6", "f": "1.5"}
    assert r.hrandfield("h") in {"a", "c", "f"}
    # Five pairs: flat in RESP2, nested in RESP3, as Redis answers.
    assert len(r.hrandfield("h", -5, withvalues=True)) in (5, 10)
    assert r.type("h") == "hash"
    assert r.delete("h") == 1 and r.hgetall("h") == {}
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.hset("s", "a", "1")


def test_sets(r):
    assert r.sadd("s1", "a", "b", "c") == 3
    assert r.sadd("s2", "b", "c", "d") == 3
    assert r.smembers("s1") == {"a", "b", "c"}
    assert r.sismember("s1", "a") and not r.sismember("s1", "z")
    assert r.smismember("s1", ["a", "z"]) == [1, 0]
    assert r.scard("s1") == 3
    assert r.sinter("s1", "s2") == {"b", "c"}
    assert r.sunion("s1", "s2") == {"a", "b", "c", "d"}
    assert r.sdiff("s1", "s2") == {"a"}
    assert r.sinterstore("s3", ["s1", "s2"]) == 2
    assert r.sintercard(2, ["s1", "s2"]) == 2
    assert r.smove("s1", "s2", "a") is True
    assert r.srem("s2", "a", "z") == 1
    popped = r.spop("s3", 5)
    assert sorted(popped) == ["b", "c"] and r.exists("s3") == 0
    assert r.srandmember("s2") in {"b", "c", "d"}
    assert set(r.sscan_iter("s2")) == {"b", "c", "d"}
    assert r.type("s2") == "set"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.hget("s2", "a")


def test_lists(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == ["z", "a", "b", "c"]
    assert r.llen("l") == 4
    assert r.lindex("l", -1) == "c"
    assert r.lset("l", 1, "A") is True
    assert r.linsert("l", "after", "A", "A2") == 5
    assert r.lpos("l", "b") == 3
    assert r.lrem("l", 0, "A2") == 1
    assert r.lpop("l") == "z"
    assert r.rpop("l", 2) == ["c", "b"]
    assert r.lmove("l", "l2", "LEFT", "RIGHT") == "A"
    assert r.exists("l") == 0
    assert r.rpoplpush("l2", "l3") == "A"
    assert r.lmpop(2, "nokey", "l3", direction="LEFT") == ["l3", ["A"]]
    r.rpush("t", *range(10))
    assert r.ltrim("t", 2, 4) is True
    assert r.lrange("t", 0, -1) == ["2", "3", "4"]
    assert r.type("t") == "list"
    pipe = r.pipeline(transaction=True)
    pipe.rpush("q", "job1").rpush("q", "job2").lpop("q").llen("q")
    assert pipe.execute() == [1, 2, "job1", 1]
