"""Log-log plot of `device_attention.py`'s JSON: time and memory vs length.

Part of `device_check.sh`. One row per dtype; left: the median time of
each impl (solid: forward+backward, dashed: forward), right: its compiled
memory (arguments + outputs + temporaries). matplotlib is optional: without
it this prints why and writes nothing.

    python benchmarks/device_plot.py OUTDIR/attention.json OUTDIR/attention.png
"""

import json
import sys

COLORS = dict(bigbird="C0", bigbird_core="C1", mha="C2", dense="C3", flash="C4")


def plot(results, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = sorted({r["dtype"] for r in results})
    fig, axes = plt.subplots(len(dtypes), 2, figsize=(11, 4 * len(dtypes)),
                             squeeze=False)
    for row, dtype in enumerate(dtypes):
        for impl, color in COLORS.items():
            for pass_, style in (("forward_backward", "-"), ("forward", "--")):
                points = sorted(
                    (r["length"], r["seconds"], (r.get("memory") or {}).get("total"))
                    for r in results
                    if r["impl"] == impl and r["dtype"] == dtype
                    and r["pass"] == pass_ and "seconds" in r
                )
                if not points:
                    continue
                label = f"{impl} {'f+b' if pass_ == 'forward_backward' else 'fwd'}"
                lengths = [p[0] for p in points]
                axes[row, 0].plot(lengths, [1e3 * p[1] for p in points], style,
                                  color=color, marker="o", ms=3, label=label)
                memory = [(p[0], p[2] / 2**20) for p in points if p[2]]
                if memory:
                    axes[row, 1].plot(*zip(*memory), style, color=color,
                                      marker="o", ms=3, label=label)
        for column, ylabel in ((0, "median time (ms)"),
                               (1, "compiled memory (MiB)")):
            ax = axes[row, column]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("tokens")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{dtype}: {ylabel.split(' (')[0]}")
            ax.grid(True, which="both", alpha=0.3)
        axes[row, 0].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    source, path = argv
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("no plot: matplotlib is not installed (the JSON has the figures)")
        return 0
    with open(source) as f:
        data = json.load(f)
    title = f"attention on {data.get('device_kind') or data.get('device')}"
    plot(data["results"], path, title)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
