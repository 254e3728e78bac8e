"""Do `keras-bigbird train`'s defaults learn a long-document task?

    python benchmarks/train_defaults.py [--documents 400] [--output-dir DIR]

Writes `--documents` generated documents (`keras_bigbird.training.
synthetic`: 300 to 3000 words, the label set by one sentence 200 to 700
words in) and runs `keras-bigbird train --data FILE --output-dir DIR` with
every other flag at its default, through `keras_bigbird.cli.main`. Prints
the wall time and `train`'s figures: the validation accuracy (on the
batches held out from the training data) against the majority class.
"""

import argparse
import json
import os
import tempfile
import time

from keras_bigbird import cli
from keras_bigbird.training import synthetic


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output-dir", default=None)
    args = parser.parse_args()
    output_dir = args.output_dir or tempfile.mkdtemp(prefix="train_defaults")
    data = synthetic.write_csv(
        os.path.join(output_dir, "planted.csv"), args.documents, seed=args.seed
    )
    start = time.perf_counter()
    code = cli.main(["train", "--data", data, "--output-dir", f"{output_dir}/run"])
    seconds = time.perf_counter() - start
    if code:
        raise SystemExit(code)
    with open(os.path.join(output_dir, "run", "figures.json")) as f:
        figures = json.load(f)
    print(
        f"{args.documents} documents: validation accuracy "
        f"{figures['validation accuracy']:.3f} (majority class "
        f"{figures['validation majority_accuracy']:.3f}, "
        f"{figures['validation num_labels']} documents), best epoch "
        f"{figures['best epoch']} of {figures['epochs run']}, "
        f"{seconds:.0f} s on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
