"""Build the customer table of an order log with custscore inside Spark.

The log's lines are keyed by customer id and hash-partitioned, so every customer's lines
land in one partition; each partition is piped through `custscore aggregate`, which
computes the same features and `churned` label as `custscore train --transactions` at the
given cut-off. The union of the partitions is the whole log's table.

    python aggregate_pipe.py --binary /usr/local/bin/custscore --log online_retail.csv.gz \
        --as-of 2011-09-10 --output table/ --partitions 8 -- \
        --customer-col CustomerID --order-col InvoiceNo --item-col StockCode \
        --time-col InvoiceDate --price-col UnitPrice --quantity-col Quantity
"""
import argparse
import os
import csv
import shlex
import sys
import time

from pyspark.sql import SparkSession


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--log", required=True, help="CSV (or .csv.gz) with a header row")
    parser.add_argument("--as-of", required=True, help="the cut-off date")
    parser.add_argument("--output", required=True)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("log_flags", nargs="*", help="custscore's column flags")
    args = parser.parse_args()

    # Workers run this interpreter (with its packages); partitionBy hashes strings, so
    # they must agree on the hash seed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    spark = SparkSession.builder.master(args.master).config("spark.executorEnv.PYTHONHASHSEED", os.environ["PYTHONHASHSEED"]) \
        .appName("custscore-aggregate").getOrCreate()
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    lines = sc.textFile(args.log)
    header = lines.first()
    columns = next(csv.reader([header]))
    customer_col = args.log_flags[args.log_flags.index("--customer-col") + 1]
    at = columns.index(customer_col)

    def keyed(line):
        fields = next(csv.reader([line]))
        return (fields[at] if at < len(fields) else "", line)

    body = lines.filter(lambda line: line != header)
    by_customer = body.map(keyed).partitionBy(args.partitions).values()
    command = shlex.join([
        args.binary, "aggregate", "--transactions", "-", "--no-header",
        "--columns", ",".join(columns), "--as-of", args.as_of, "--output", "-",
        *args.log_flags,
    ])
    started = time.monotonic()
    by_customer.pipe(command, checkCode=True).saveAsTextFile(args.output)
    print(f"spark: master {args.master}, partitions {by_customer.getNumPartitions()}, "
          f"aggregate job {time.monotonic() - started:.2f}s")
    spark.stop()


if __name__ == "__main__":
    main()
