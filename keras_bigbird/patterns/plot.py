"""`plot_attention_graph`: a picture of an attention graph (BigBird's Fig. 1)."""

import numpy as np

from keras_bigbird.patterns.attention_pattern import AttentionPattern
from keras_bigbird.patterns.bigbird_pattern import BigBirdPattern
from keras_bigbird.patterns.block_adjacency import block_adjacency

# Colours of the parts, as in the paper's Figure 1.
_COLOURS = {
    "random": "#d62728",
    "window": "#1f77b4",
    "global": "#2ca02c",
    "attended": "#4c4c4c",
    "global tokens": "#ff7f0e",
}


def _parts(pattern, num_blocks, heads, seed, block_size):
    """Named block graphs `[heads, n, n]` of the parts of `pattern`."""
    whole = block_adjacency(pattern, num_blocks, heads, seed, block_size=block_size)[0]
    if not isinstance(pattern, BigBirdPattern):
        return {"attended": whole}
    g, half = pattern.num_global_blocks, pattern.num_window_blocks // 2
    i = np.arange(num_blocks)[:, None]
    j = np.arange(num_blocks)[None, :]
    is_global = (i < g) | (i >= num_blocks - g) | (j < g) | (j >= num_blocks - g)
    is_window = (np.abs(i - j) <= half) & ~is_global
    return {
        "random": whole & ~is_global & ~is_window,
        "window": whole & is_window,
        "global": whole & is_global,
    }


def plot_attention_graph(
    layer_or_pattern,
    seq_len,
    path=None,
    block_size=None,
    num_heads=None,
    seed=0,
    per_head=False,
    global_mask=None,
    title=None,
):
    """Draws which keys each query attends, as in the BigBird paper's Fig. 1.

    For a `BigBirdPattern` the picture has the paper's four panels: the
    random, window and global parts, then the whole graph (colour per
    part); any other pattern gets one panel. With `per_head=True` there is
    one row of panels per head. Rows are queries, columns keys, each cell a
    token pair (blocks are drawn at token resolution, so `seq_len` of a few
    hundred tokens reads best). Needs matplotlib (`pip install
    "keras-bigbird[plot]"`).

    Args:
        layer_or_pattern: a layer with a `pattern` (`BlockSparseAttention`
            and its subclasses) or an `AttentionPattern`.
        seq_len: the number of tokens drawn.
        path: where to save the figure (PNG, SVG, ... by extension), or
            None to only return it.
        block_size, num_heads, seed: the layer's, or for a pattern the
            values to draw it with (defaults 16, 1 and 0).
        per_head: one row per head instead of the first head only.
        global_mask: optional bool `[seq_len]`: global tokens, drawn on top
            (ETC-style: their rows and columns).
        title: the figure's title.

    Returns:
        The matplotlib `Figure`.

    Example:

    >>> from keras_bigbird.patterns import BigBirdPattern
    >>> figure = plot_attention_graph(BigBirdPattern(2), 256, block_size=16)
    >>> len(figure.axes)
    4
    """
    # A bare Figure: no pyplot state, works without a display.
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    if isinstance(layer_or_pattern, AttentionPattern):
        pattern = layer_or_pattern
        block_size = block_size or 16
        num_heads = num_heads or 1
    else:
        pattern = layer_or_pattern.pattern
        block_size = block_size or layer_or_pattern.block_size
        num_heads = num_heads or layer_or_pattern.num_heads
        seed = layer_or_pattern.seed
    num_blocks = -(-seq_len // block_size)
    parts = _parts(pattern, num_blocks, num_heads, seed, block_size)
    token_block = np.arange(seq_len) // block_size

    def tokens(graph):
        return graph[:, token_block][:, :, token_block]

    panels = [(name, {name: tokens(graph)}) for name, graph in parts.items()]
    if len(parts) > 1:
        panels.append(("BigBird", {k: tokens(v) for k, v in parts.items()}))
    if global_mask is not None:
        g = np.asarray(global_mask, bool)[:seq_len]
        panels[-1][1]["global tokens"] = np.broadcast_to(
            g[:, None] | g[None, :], (num_heads, seq_len, seq_len)
        )
    heads = range(num_heads) if per_head else range(1)
    rows, columns = len(heads), len(panels)
    figure = Figure(figsize=(max(2.6 * columns, 4.5), 2.6 * rows + 0.9))
    axes = figure.subplots(rows, columns, squeeze=False)
    for r, h in enumerate(heads):
        for c, (name, layers) in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(np.zeros((seq_len, seq_len)), cmap=ListedColormap(["white"]))
            for part, graph in layers.items():
                colour = ListedColormap([(0, 0, 0, 0), _COLOURS[part]])
                ax.imshow(graph[h].astype(float), cmap=colour, vmin=0, vmax=1,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            label = name if not per_head else f"{name}, head {h}"
            ax.set_title(label, fontsize=9)
    from matplotlib.patches import Patch

    used = [part for part in _COLOURS if part in panels[-1][1]]
    figure.legend(
        handles=[Patch(color=_COLOURS[part], label=part) for part in used],
        loc="lower center", ncol=len(used), fontsize=8, frameon=False,
    )
    figure.suptitle(title or f"{type(pattern).__name__}, {seq_len} tokens, "
                    f"blocks of {block_size}", fontsize=10)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    if path is not None:
        figure.savefig(path, dpi=110)
    return figure
