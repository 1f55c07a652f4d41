"""Measured GPU points of a sweep beside ``hyperf predict``'s roofline for the same points.

    python benchmarks/measured_vs_predicted.py DB [--device-table H100-SXM] [-o FILE.csv]

Every ``ok`` point of the store (all runs) is predicted for the named GPU of the device table
(hyperf/data/devices.yaml). SDPA's flash backend is predicted as ``attention:flash_attn``: it
runs the same FlashAttention-2 kernels. Prints each point and the geometric mean of
measured/predicted per operator and mode; a ratio above 1 means the model is optimistic.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from hyperf.analysis.predict import predict
from hyperf.store import Store
from hyperf.workload import Workload

SAME_KERNELS = {"attention:sdpa-flash": "attention:flash_attn"}


def geometric_mean(values: pd.Series) -> float:
    return float(np.exp(np.log(values).mean()))


def compare(points: pd.DataFrame, device_table: str) -> pd.DataFrame:
    rows = []
    for p in points[points["status"] == "ok"].itertuples():
        workload = Workload(
            SAME_KERNELS.get(p.op, p.op),
            seq_len=p.seq_len,
            batch=p.batch,
            d_model=p.d_model,
            n_heads=p.n_heads,
            order=p.hyena_order,
            depth=p.depth,
            dtype=p.dtype,
        )
        guess = predict(workload, p.mode, device_table)
        predicted_ms = guess.seconds * 1e3
        rows.append(
            {
                "op": p.op,
                "mode": p.mode,
                "seq_len": p.seq_len,
                "batch": p.batch,
                "measured_ms": p.median_ms,
                "ci_low_ms": p.ci_low_ms,
                "ci_high_ms": p.ci_high_ms,
                "predicted_ms": predicted_ms,
                "bound_by": guess.bound_by,
                "measured_over_predicted": p.median_ms / predicted_ms,
            }
        )
    return pd.DataFrame(rows).sort_values(["mode", "op", "batch", "seq_len"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("db")
    parser.add_argument("--device-table", default="H100-SXM", help="GPU for the prediction")
    parser.add_argument("-o", "--output", help="also write the table as CSV")
    args = parser.parse_args()
    with Store(args.db) as store:
        table = compare(store.points(), args.device_table)
    with pd.option_context("display.width", 200, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
        ratio = table.groupby(["op", "mode"])["measured_over_predicted"]
        print("\nmeasured / predicted, per operator and mode (min, geometric mean, max):")
        print(ratio.agg(["min", geometric_mean, "max"]).to_string())
    print(f"all points: geometric mean {geometric_mean(table['measured_over_predicted']):.2f}")
    if args.output:
        table.to_csv(args.output, index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
