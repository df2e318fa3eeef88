"""Score a header-less customer file with custscore inside Spark, through RDD.pipe.

Each partition of the text file is piped through one `custscore score` process, which
reads the rows in the bundle's column order (`--columns-from-bundle`; `custscore inspect`
lists them) and writes one CSV row per input row: a scored row, or a row marked rejected
(`_rejected` = line within the partition and reason, `_record` = the row as read). Input
rows = output rows, across the job.

    python score_pipe.py --binary /usr/local/bin/custscore --models /models \
        --input customers.csv --output scored/ --partitions 8 [--master local[2]]

On a cluster, the binary and the bundle must be at the same paths on every executor
(a container image, or `--files`/`--archives`).
"""
import argparse
import os
import shlex
import sys
import time

from pyspark.sql import SparkSession


def score_command(binary, models):
    return shlex.join([
        binary, "score", "--input", "-", "--output", "-", "--rejects", "-",
        "--no-header", "--columns-from-bundle", "--models", models,
    ])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--input", required=True, help="header-less CSV, bundle column order")
    parser.add_argument("--output", required=True, help="directory Spark writes part files to")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    # Workers run this interpreter (with its packages); partitionBy hashes strings, so
    # they must agree on the hash seed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    spark = SparkSession.builder.master(args.master).config("spark.executorEnv.PYTHONHASHSEED", os.environ["PYTHONHASHSEED"]) \
        .appName("custscore-score-pipe").getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    lines = sc.textFile(args.input, minPartitions=args.partitions)
    if lines.getNumPartitions() < args.partitions:
        lines = lines.repartition(args.partitions)
    started = time.monotonic()
    # checkCode: a custscore run that fails (a bad bundle, a broken pipe) fails the task.
    scored = lines.pipe(score_command(args.binary, args.models), checkCode=True)
    scored.saveAsTextFile(args.output)
    seconds = time.monotonic() - started
    print(f"spark: master {args.master}, default parallelism {sc.defaultParallelism}, "
          f"partitions {lines.getNumPartitions()}, pipe job {seconds:.2f}s")
    spark.stop()


if __name__ == "__main__":
    main()
