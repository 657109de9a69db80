"""Make tests/data/reference_pr.json: torch-fidelity 0.4.0's precision/recall/F-score on the fixture pool3 features.

Run with the peers' environment (torch-fidelity 0.4.0 installed), from the repository root:

    /work/peers/bin/python tests/data/make_reference_pr.py

torch-fidelity's `prc_features_to_metric(features_1, features_2)` takes the GENERATED features
first and the REAL ones second (read in its metric_prc.py); it calls
`calculate_precision_recall_full` (the default, save_cpu_ram=False) with neighborhood=3.
Each case below names which fixture set plays which part. Counts are precision * N rounded,
so a test can compare the discrete events exactly.
"""

import json
from pathlib import Path

import numpy as np
import torch
import torch_fidelity
from torch_fidelity.metric_prc import calculate_precision_recall_full, prc_features_to_metric

DATA = Path(__file__).resolve().parent


def case(real_name: str, fake_name: str) -> dict:
    real = torch.from_numpy(np.load(DATA / f"reference_{real_name}_pool3.npy"))
    fake = torch.from_numpy(np.load(DATA / f"reference_{fake_name}_pool3.npy"))
    metric = prc_features_to_metric(
        fake, real, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False
    )
    precision, recall = calculate_precision_recall_full(fake, real, neighborhood=3, batch_size=10000)
    assert (precision, recall) == (metric["precision"], metric["recall"])
    return dict(
        real=f"reference_{real_name}_pool3.npy",
        fake=f"reference_{fake_name}_pool3.npy",
        k=3,
        precision=metric["precision"],
        recall=metric["recall"],
        f_score=metric["f_score"],
        precision_count=round(metric["precision"] * fake.shape[0]),
        recall_count=round(metric["recall"] * real.shape[0]),
        real_count=real.shape[0],
        fake_count=fake.shape[0],
    )


def main() -> None:
    result = dict(
        tool=f"torch-fidelity {torch_fidelity.__version__}",
        torch=torch.__version__,
        function="torch_fidelity.metric_prc.prc_features_to_metric(fake, real) -> "
        "calculate_precision_recall_full(features_1=fake, features_2=real, neighborhood=3)",
        cases=[case("a", "b"), case("b", "a")],
    )
    (DATA / "reference_pr.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
