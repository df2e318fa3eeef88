"""Score a customer file with custscore inside Spark, through DataFrame.mapInPandas.

Each Arrow batch of the DataFrame is written as CSV (with its header) to one
`custscore score` process; its CSV answer becomes the output batch. Rows that cannot be
scored come back marked (`_rejected`, `_record`), so input rows = output rows.

    python score_pandas.py --binary /usr/local/bin/custscore --models /models \
        --input customers.csv --output scored/ [--no-header] [--master local[2]]
"""
import argparse
import os
import io
import subprocess
import sys
import time

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType


def bundle_columns(binary, models):
    """The bundle's columns, as `custscore inspect` lists them."""
    text = subprocess.run([binary, "inspect", "--models", models], check=True,
                          capture_output=True, text=True).stdout
    prefix = "columns of header-less input (score --columns-from-bundle): "
    line = next(l for l in text.splitlines() if l.startswith(prefix))
    return line[len(prefix):].split(",")


def score_command(binary, models):
    return [binary, "score", "--input", "-", "--output", "-", "--rejects", "-",
            "--models", models]


def output_columns(binary, models, columns):
    """The answer's CSV columns: what custscore writes for an input of just a header."""
    header = ",".join(columns) + "\n"
    out = subprocess.run(score_command(binary, models), input=header, check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split(",")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--no-header", action="store_true",
                        help="the input has no header row and the bundle's column order")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    # Workers run this interpreter (with its packages); partitionBy hashes strings, so
    # they must agree on the hash seed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    spark = SparkSession.builder.master(args.master).config("spark.executorEnv.PYTHONHASHSEED", os.environ["PYTHONHASHSEED"]) \
        .appName("custscore-score-pandas").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    columns = bundle_columns(args.binary, args.models)
    schema = StructType([StructField(c, StringType()) for c in columns])
    # Everything as text: custscore parses the cells itself, as it does in a file.
    reader = spark.read.option("header", not args.no_header).option("mode", "PERMISSIVE")
    df = reader.schema(schema).csv(args.input) if args.no_header else \
        reader.option("inferSchema", False).csv(args.input).select(*columns)
    df = df.repartition(args.partitions)
    out_columns = output_columns(args.binary, args.models, columns)
    out_schema = StructType([StructField(c, StringType()) for c in out_columns])
    command = score_command(args.binary, args.models)

    def score_batches(batches):
        for batch in batches:
            text = batch.to_csv(index=False)
            done = subprocess.run(command, input=text.encode(), capture_output=True, check=True)
            yield pd.read_csv(io.BytesIO(done.stdout), dtype=str, keep_default_na=False)

    started = time.monotonic()
    df.mapInPandas(score_batches, out_schema).write.mode("overwrite") \
        .option("header", True).csv(args.output)
    print(f"spark: master {args.master}, partitions {df.rdd.getNumPartitions()}, "
          f"mapInPandas job {time.monotonic() - started:.2f}s")
    spark.stop()


if __name__ == "__main__":
    main()
