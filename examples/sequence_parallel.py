"""Sequence parallelism: one long sequence split over several devices (JAX).

`keras.distribution.ModelParallel` with a `LayoutMap` that shards the
sequence axis of the encoder's activations (`sequence_layout_map`): the
embeddings, each block's output, its attention's projected queries, keys
and values, the attention output and the feed-forward's hidden layer are
`[batch, length, ...]` tensors split along `length` over the mesh's
`"sequence"` axis, while the weights stay replicated. Keras applies each
layout to the layer's output (`jax.lax.with_sharding_constraint`) and XLA's
SPMD partitioner plans the rest and inserts the collectives: it all-gathers
the keys and values of each layer (linear in the length) so that every
device has the window, random and global key blocks of its own query
blocks, wherever they lie, computes its query blocks' block products and
softmax, and reduces the global rows' softmax and the weight gradients
across the devices. The block products, scores and probabilities, the
memory that grows with the pattern, are split over the devices.

    # 4 virtual CPU devices, 16k tokens: the sharded forward+backward
    # against one device
    python examples/sequence_parallel.py --virtual-devices 4 --length 16384 --check

    # compiled memory per device, sharded and on one device, with and
    # without gradient checkpointing (compiles only)
    python examples/sequence_parallel.py --virtual-devices 4 --length 32768 --memory

    # on a machine with several accelerators (all of them), a few
    # training steps with model.fit
    python examples/sequence_parallel.py --length 65536 --fit-steps 2

Per-device memory is XLA's compiled memory analysis
(`jax.jit(...).lower(...).compile().memory_analysis()`: arguments +
outputs + temporaries - aliased), the figure a CPU gives where it has no
allocator statistics: for the SPMD program it is what one device holds.
Gradient checkpointing and dropout are on in the sharded run; `--check`
compares it with one device without checkpointing.
"""

import argparse
import json
import os
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Sequence-parallel BigBird on JAX (keras.distribution)."
    )
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--virtual-devices", type=int, default=0,
                        help="split the CPU into this many devices (set "
                             "before JAX starts); 0: use the real devices")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--check", action="store_true",
                        help="compare with one device (without checkpointing)")
    parser.add_argument("--memory", action="store_true",
                        help="compile (not run) sharded and single-device "
                             "programs with and without checkpointing and "
                             "report their memory")
    parser.add_argument("--fit-steps", type=int, default=0,
                        help="then train this many steps with model.fit")
    parser.add_argument("--json", help="write the figures here")
    return parser.parse_args(argv)


def sequence_layout_map(mesh, batch="batch", sequence="sequence"):
    """A `LayoutMap` sharding BigBird encoder activations along the length.

    Weights match no key, so they are replicated. Every key is a layer
    output (`<layer path>/output`); paths are those of `BigBirdEncoder`
    and `BigBirdEncoderBlock` (also inside task models, whose encoder
    layers keep their names).
    """
    import keras

    layout_map = keras.distribution.LayoutMap(mesh)
    tokens = (batch, sequence, None)
    layout_map[r"embeddings/output"] = tokens
    layout_map[r"encoder_layer_\d+/output"] = tokens
    layout_map[r"encoder_layer_\d+/self_attention/output"] = tokens
    layout_map[r"encoder_layer_\d+/self_attention/(query|key|value)/output"] = (
        batch, sequence, None, None,
    )
    layout_map[r"encoder_layer_\d+/feedforward_intermediate_dense/output"] = tokens
    return layout_map


def build_encoder(args, gradient_checkpointing):
    import keras

    from keras_bigbird.models import BigBirdEncoder

    keras.utils.set_random_seed(0)
    return BigBirdEncoder(
        vocabulary_size=64, num_layers=args.layers, num_heads=args.heads,
        hidden_dim=args.hidden, intermediate_dim=2 * args.hidden,
        max_sequence_length=args.length, block_size=args.block_size,
        num_random_blocks=3, dropout=args.dropout,
        attention_dropout=args.dropout,
        gradient_checkpointing=gradient_checkpointing, seed=0,
    )


def loss_and_grads(encoder):
    """`(trainable, inputs, upstream) -> ((loss, outputs), grads)`, jitted:
    a training-mode forward and backward of `sum(sequence_output * upstream)`."""
    import jax
    import jax.numpy as jnp

    non_trainable = [v.value for v in encoder.non_trainable_variables]

    def loss(trainable, inputs, upstream):
        outputs, _ = encoder.stateless_call(
            trainable, non_trainable, inputs, training=True
        )
        sequence = outputs["sequence_output"]
        return jnp.sum(sequence * upstream), sequence

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


def memory(compiled):
    analysis = compiled.memory_analysis()
    figures = {
        name: int(getattr(analysis, f"{name}_size_in_bytes"))
        for name in ("argument", "output", "temp", "alias")
    }
    figures["total"] = (
        figures["argument"] + figures["output"] + figures["temp"] - figures["alias"]
    )
    return figures


def collectives(hlo_text):
    import collections
    import re

    return dict(collections.Counter(re.findall(
        r"= \S+ (all-gather|all-reduce|collective-permute|all-to-all|"
        r"reduce-scatter)(?:-start)?\(",
        hlo_text,
    )))


def relative_difference(a, b, scale=None):
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = float(np.abs(a).max()) if scale is None else scale
    return float(np.abs(a - b).max()) / max(scale, 1e-30)


def gradient_differences(variables, reference, sharded):
    """Each gradient's largest difference relative to its largest entry.

    A key bias has an exact gradient of zero (softmax does not change when
    a whole row of scores shifts): it is measured on the scale of its
    layer's key-kernel gradient instead.
    """
    import numpy as np

    grads = {v.path: g for v, g in zip(variables, reference)}
    differences = {}
    for variable, a, b in zip(variables, reference, sharded):
        scale = None
        if variable.path.endswith("self_attention/key/bias"):
            kernel = variable.path[: -len("bias")] + "kernel"
            scale = float(np.abs(np.asarray(grads[kernel])).max())
        differences[variable.path] = relative_difference(a, b, scale)
    return differences


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if args.virtual_devices:
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" --xla_force_host_platform_device_count={args.virtual_devices}"
        )
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import jax
    import keras
    import numpy as np
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec

    devices = jax.devices()
    mesh = keras.distribution.DeviceMesh(
        (1, len(devices)), ("batch", "sequence"), devices
    )
    distribution = keras.distribution.ModelParallel(
        layout_map=sequence_layout_map(mesh), batch_dim_name="batch"
    )
    rng = np.random.default_rng(0)
    length = args.length
    inputs = {
        "token_ids": rng.integers(3, 64, (1, length)).astype("int32"),
        "padding_mask": np.ones((1, length), "int32"),
    }
    upstream = rng.normal(size=(1, length, args.hidden)).astype("float32")
    result = dict(
        length=length, devices=len(devices), platform=devices[0].platform,
        layers=args.layers, hidden=args.hidden, heads=args.heads,
        block_size=args.block_size, dropout=args.dropout,
        memory_source="compiled.memory_analysis() (per device for the "
                      "sharded program): argument + output + temp - alias",
    )

    # The sharded run: variables created under the distribution
    # (replicated), inputs split along the length.
    with distribution.scope():
        encoder = build_encoder(args, gradient_checkpointing=True)
        weights = encoder.get_weights()
        trainable = [v.value for v in encoder.trainable_variables]
        backend_mesh = mesh.backend_mesh
        split = NamedSharding(backend_mesh, PartitionSpec("batch", "sequence"))
        sharded_inputs = {k: jax.device_put(v, split) for k, v in inputs.items()}
        sharded_upstream = jax.device_put(
            upstream,
            NamedSharding(backend_mesh, PartitionSpec("batch", "sequence", None)),
        )
        start = time.perf_counter()
        compiled = loss_and_grads(encoder).lower(
            trainable, sharded_inputs, sharded_upstream
        ).compile()
        result["sharded_compile_s"] = time.perf_counter() - start
        start = time.perf_counter()
        (loss, output), grads = compiled(trainable, sharded_inputs, sharded_upstream)
        jax.block_until_ready(grads)
        result["sharded_step_s"] = time.perf_counter() - start
    result["sharded_memory_per_device"] = memory(compiled)
    result["collectives"] = collectives(compiled.as_text())
    result["output_sharding"] = str(output.sharding.spec)
    result["output_shards"] = len(output.sharding.device_set)

    if args.check:
        # One device, no distribution, no checkpointing, the same weights.
        reference_encoder = build_encoder(args, gradient_checkpointing=False)
        reference_encoder.set_weights(weights)
        reference_trainable = [v.value for v in reference_encoder.trainable_variables]
        start = time.perf_counter()
        reference_compiled = loss_and_grads(reference_encoder).lower(
            reference_trainable, inputs, upstream
        ).compile()
        result["single_compile_s"] = time.perf_counter() - start
        (ref_loss, ref_output), ref_grads = reference_compiled(
            reference_trainable, inputs, upstream
        )
        result["single_memory"] = memory(reference_compiled)
        result["memory_ratio_single_over_sharded"] = (
            result["single_memory"]["total"]
            / result["sharded_memory_per_device"]["total"]
        )
        # Relative to the sum of the magnitudes of its terms (the loss is
        # a sum of terms of either sign).
        loss_scale = float(np.abs(np.asarray(ref_output) * upstream).sum())
        result["loss_difference"] = relative_difference(ref_loss, loss, loss_scale)
        result["output_difference"] = relative_difference(ref_output, output)
        differences = gradient_differences(
            reference_encoder.trainable_variables, ref_grads, grads
        )
        result["max_gradient_difference"] = max(differences.values())
        result["worst_gradient"] = max(differences, key=differences.get)

    if args.memory:
        result["memory"] = {}
        for checkpointing in (False, True):
            with distribution.scope():
                encoder = build_encoder(args, checkpointing)
                sharded = memory(loss_and_grads(encoder).lower(
                    [v.value for v in encoder.trainable_variables],
                    sharded_inputs, sharded_upstream,
                ).compile())
            encoder = build_encoder(args, checkpointing)
            single = memory(loss_and_grads(encoder).lower(
                [v.value for v in encoder.trainable_variables], inputs, upstream
            ).compile())
            result["memory"]["checkpointing" if checkpointing else "plain"] = dict(
                single=single, sharded_per_device=sharded,
                ratio=single["total"] / sharded["total"],
            )

    if args.fit_steps:
        from keras_bigbird.models import BigBirdTokenClassifier

        with distribution.scope():
            model = BigBirdTokenClassifier(
                build_encoder(args, gradient_checkpointing=True), num_classes=2
            )
            model.compile(
                optimizer=keras.optimizers.Adam(1e-3),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            )
            labels = rng.integers(0, 2, (args.fit_steps, length)).astype("int32")
            data = {
                "token_ids": rng.integers(3, 64, (args.fit_steps, length)).astype("int32"),
                "padding_mask": np.ones((args.fit_steps, length), "int32"),
            }
            start = time.perf_counter()
            history = model.fit(data, labels, batch_size=1, epochs=1, verbose=0)
            result["fit_s"] = time.perf_counter() - start
            result["fit_loss"] = history.history["loss"]

    print(json.dumps(result, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
