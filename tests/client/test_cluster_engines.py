"""`--engine ray` and `--engine spark`: a dataset's shards screened as tasks of a local Ray
cluster and a local Spark session, against a live server and a real worker, with the same
decisions, outputs and done markers as the local engine; and the Python API inside Ray Data's
`map_batches` and Spark's `mapInPandas`, as docs/client.md shows them."""

import functools
import json
import sys

import numpy as np

from registry.client import shards as shard_module
from registry.client.batch import screen_columns, screen_pandas
from registry.client.cli import main as client_main
from registry.models import Screening, ScreeningItem
from tests.e2e.test_datasets import (
    EXPECTED,
    _command,
    _img2dataset_parquet,
    _results,
    _tar_members,
    _webdataset,
    acme_key,
    registered,
)

__all__ = ["acme_key", "registered"]


def _all_results(out, shards):
    return {shard: _results(out, shard) for shard in shards}


def test_ray_engine_screens_one_task_per_shard_like_the_local_engine_and_skips_finished_ones(
    registered, worker, live_server, acme_key, ray_cluster, tmp_path, capsys
):
    keys = _webdataset(tmp_path / "shards", shards=2)
    out, kept = tmp_path / "ray", tmp_path / "kept"
    arguments = _command(tmp_path / "shards", live_server.url, acme_key, out,
                         "--engine", "ray", "--filtered-out", str(kept))  # fmt: skip

    assert client_main(arguments) == 0

    captured = capsys.readouterr()
    for shard, shard_keys in keys.items():
        rows = _results(out, shard)
        assert [row["key"] for row in rows] == shard_keys  # every sample, its own id
        assert [row["decision"] for row in rows] == EXPECTED
        assert rows[0]["matched_work_ids"] == [registered["allowed"].pk]
        done = json.loads((out / shard / "done.json").read_text())
        assert done["samples"] == 4 and done["counts"] == dict.fromkeys(EXPECTED, 1)
        assert (out / shard / "receipt.json").exists()
        assert sorted(_tar_members(kept / f"{shard}.tar")) == [
            f"{shard_keys[0]}.{ext}" for ext in ("jpg", "json", "txt")
        ]
        assert np.load(kept / f"{shard}.uids.npy").tolist() == [shard_keys[0]]
    assert "2 shards: 2 screened, 0 skipped (finished earlier), 0 failed; 8 samples" in captured.out
    assert captured.err.count("items/s") >= 2  # a line per shard, printed by the driver
    assert Screening.objects.count() == 2  # one screening per shard, one task each

    # The same shards through the local engine decide the same, to the credit.
    local = tmp_path / "local"
    assert client_main(_command(tmp_path / "shards", live_server.url, acme_key, local)) == 0
    assert _all_results(local, keys) == _all_results(out, keys)

    # Idempotent: a rerun on Ray finds the done markers and screens nothing again.
    capsys.readouterr()
    assert client_main(arguments) == 0
    captured = capsys.readouterr()
    assert captured.err.count("finished earlier") == 2
    assert "0 screened, 2 skipped (finished earlier), 0 failed; 8 samples" in captured.out
    assert Screening.objects.count() == 4  # Ray's two and the local engine's two

    # The Python API as Ray Data runs it (docs/client.md): map_batches over parquet.
    folder = tmp_path / "parquet"
    folder.mkdir()
    parquet_keys = _img2dataset_parquet(folder / "a.parquet", "a")
    screen = functools.partial(
        screen_columns, api=live_server.url, key=acme_key, purpose="ai_training"
    )
    dataset = ray_cluster.data.read_parquet(str(folder))
    rows = dataset.map_batches(screen, batch_format="numpy", batch_size=2).take_all()
    decided = {row["key"]: row["consentry_decision"] for row in rows}
    assert decided == dict(zip(parquet_keys, [*EXPECTED, "invalid"], strict=True))
    kept_rows = [row["key"] for row in rows if row["consentry_passes"]]
    assert kept_rows == [parquet_keys[0]]


def test_spark_engine_resumes_an_interrupted_shard_and_decides_like_the_local_engine(
    registered, worker, live_server, acme_key, spark, tmp_path, capsys, monkeypatch
):
    folder = tmp_path / "parquet"
    folder.mkdir()
    keys = {name: _img2dataset_parquet(folder / f"{name}.parquet", name) for name in ("a", "b")}
    out = tmp_path / "screened"
    local = _command(folder, live_server.url, acme_key, out, "--chunk-size", "2")

    # The local engine is interrupted after its first chunk of shard a.
    real_send = shard_module.ShardRun._send_chunk

    def interrupted_after_one_chunk(self, folder, state, number, items):
        if number > 0:
            raise KeyboardInterrupt
        real_send(self, folder, state, number, items)

    monkeypatch.setattr(shard_module.ShardRun, "_send_chunk", interrupted_after_one_chunk)
    assert client_main(local) == 130
    monkeypatch.undo()
    capsys.readouterr()

    # Spark takes over: shard a goes on with its screening, shard b gets its own.
    assert client_main([*local, "--engine", "spark"]) == 0

    captured = capsys.readouterr()
    assert "a: resuming screening" in captured.err
    assert "2 shards: 2 screened, 0 skipped (finished earlier), 0 failed; 10 samples" in (
        captured.out
    )
    results = _all_results(out, keys)
    for name, shard_keys in keys.items():
        assert [row["key"] for row in results[name]] == shard_keys
        assert [row["decision"] for row in results[name]] == [*EXPECTED, "invalid"]
        assert (out / name / "done.json").exists()
        screenings = ScreeningItem.objects.filter(item_id=shard_keys[0]).values("screening")
        assert screenings.count() == 1  # one screening per shard, the interrupted one resumed
        (screening,) = Screening.objects.filter(pk__in=screenings)
        assert screening.done_items == 5  # every sample decided once, listed or counted
    assert Screening.objects.count() == 2

    # The local engine decides the same, and a rerun of it skips what Spark finished.
    assert client_main(_command(folder, live_server.url, acme_key, tmp_path / "local")) == 0
    assert _all_results(tmp_path / "local", keys) == results
    capsys.readouterr()
    assert client_main(local) == 0
    assert capsys.readouterr().err.count("finished earlier") == 2

    # The Python API as Spark runs it (docs/client.md): mapInPandas over the same parquet.
    from pyspark.sql.types import (
        ArrayType,
        BooleanType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    frame = spark.read.parquet(str(folder))
    screen = functools.partial(
        screen_pandas, api=live_server.url, key=acme_key, purpose="ai_training"
    )
    # A new schema: StructType.add would change the frame's own schema in place.
    schema = StructType(
        [
            *frame.schema.fields,
            StructField("consentry_decision", StringType()),
            StructField("consentry_passes", BooleanType()),
            StructField("consentry_reason", StringType()),
            StructField("consentry_work_ids", ArrayType(LongType())),
            StructField("consentry_credit", StringType()),
        ]
    )
    rows = frame.mapInPandas(screen, schema).collect()
    decided = {row["key"]: row["consentry_decision"] for row in rows}
    expected = [*EXPECTED, "invalid"]
    assert decided == {key: expected[n % 5] for n, key in enumerate([*keys["a"], *keys["b"]])}
    passing = sorted(row["key"] for row in frame.mapInPandas(screen, schema).where(
        "consentry_passes").collect())  # fmt: skip
    assert passing == [keys["a"][0], keys["b"][0]]


def test_a_missing_engine_says_how_to_install_it_before_asking_the_registry(
    tmp_path, capsys, monkeypatch
):
    _webdataset(tmp_path / "shards", shards=1)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    arguments = _command(tmp_path / "shards", "http://127.0.0.1:9", "key", tmp_path / "out",
                         "--engine", "ray")  # fmt: skip

    assert client_main(arguments) == 2

    error = capsys.readouterr().err
    assert "--engine ray needs Ray" in error
    assert "pip install -r requirements-cluster.txt" in error
    assert "connection" not in error  # port 9 was never asked: nothing was screened
