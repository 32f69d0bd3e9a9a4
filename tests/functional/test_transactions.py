"""Writes join the request's transaction: commit, abort, conflict retry."""


def test_a_committed_write_reaches_mongo(rpc, app):
    from s01.worker.interfaces import IMongoStore

    assert rpc("bumpCounter", "plain") == 1
    db = app.registry.getUtility(IMongoStore).db
    assert db.counters.find_one({"_id": "plain"}) == {
        "_id": "plain", "value": 1, "_version": 1}


def test_a_failing_call_leaves_the_database_untouched(rpc, app):
    from s01.worker.interfaces import IMongoStore

    answer = rpc.answer("failAfterWrite", "aborted")
    assert answer["error"]["code"] == -32603
    db = app.registry.getUtility(IMongoStore).db
    assert db.counters.find_one({"_id": "aborted"}) is None


def test_one_failing_call_in_a_batch_keeps_the_others_writes(rpc, app):
    from s01.worker.interfaces import IMongoStore

    response = rpc.post([
        {"jsonrpc": "2.0", "method": "bumpCounter", "params": ["kept"],
         "id": 1},
        {"jsonrpc": "2.0", "method": "failAfterWrite", "params": ["lost"],
         "id": 2},
    ], status=200)
    codes = {a["id"]: a.get("error", {}).get("code") for a in response.json}
    assert codes == {1: None, 2: -32603}
    db = app.registry.getUtility(IMongoStore).db
    assert db.counters.find_one({"_id": "kept"})["value"] == 1
    assert db.counters.find_one({"_id": "lost"}) is None


def test_a_stale_update_conflicts_and_the_request_is_retried(rpc, app):
    from s01.worker.interfaces import IMongoStore
    from s01.worker.testing import rpc as doubles

    doubles.attempts.pop("raced", None)
    doubles.interfered.discard("raced")
    assert rpc("bumpCounter", "raced") == 1

    # The first attempt reads version 1, then another writer makes it 2:
    # the commit conflicts, pyramid_tm retries, the retry reads version 2.
    assert rpc("bumpCounter", "raced", True) == 3
    db = app.registry.getUtility(IMongoStore).db
    doc = db.counters.find_one({"_id": "raced"})
    assert doc["value"] == 1 + 100 + 1
    assert doc["_version"] == 3
