"""What a written SavedModel contains, read from `saved_model.pb`.

These are the facts a server relies on: the ops of every graph and library
function (a server must have each registered), the signature tensor names (a
session-based loader such as TF Serving feeds and fetches by them) and
whether any function is marked for XLA compilation.
"""

import os

from tensorflow.core.protobuf import saved_model_pb2

# Ops that call back into the Python interpreter: no server can run them.
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})


def read_saved_model(export_dir):
    """The `SavedModel` proto of `export_dir`."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def serving_meta_graph(export_dir, tag="serve"):
    """The MetaGraphDef tagged `tag` (what `TF_LoadSessionFromSavedModel`
    loads for that tag)."""
    for meta_graph in read_saved_model(export_dir).meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ValueError(f"No MetaGraph tagged {tag!r} in {export_dir}")


def op_names(export_dir, tag="serve"):
    """Every op type used by the graph and by its function library."""
    graph = serving_meta_graph(export_dir, tag).graph_def
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops.update(node.op for node in function.node_def)
    # Calls to library functions appear as ops named after the function.
    functions = {function.signature.name for function in graph.library.function}
    return ops - functions


def xla_functions(export_dir, tag="serve"):
    """Names of nodes and functions that request XLA compilation."""
    graph = serving_meta_graph(export_dir, tag).graph_def
    marked = []
    attrs = ("_XlaMustCompile", "_XlaCompile")
    for function in graph.library.function:
        if any(function.attr[a].b for a in attrs if a in function.attr):
            marked.append(function.signature.name)
        for node in function.node_def:
            if any(node.attr[a].b for a in attrs if a in node.attr):
                marked.append(f"{function.signature.name}/{node.name}")
    for node in graph.node:
        if any(node.attr[a].b for a in attrs if a in node.attr):
            marked.append(node.name)
    return marked


def signature_tensors(export_dir, tag="serve"):
    """`{signature: {"inputs": {key: info}, "outputs": {key: info}}}`.

    `info` is a dict with the graph tensor `name` (`"op:index"`), the
    `dtype` name and the `shape` (None for unknown dimensions).
    """
    from tensorflow.core.framework import types_pb2

    def describe(tensor_info):
        if tensor_info.tensor_shape.unknown_rank:
            shape = None
        else:
            shape = [
                None if d.size < 0 else d.size
                for d in tensor_info.tensor_shape.dim
            ]
        return {
            "name": tensor_info.name,
            "dtype": types_pb2.DataType.Name(tensor_info.dtype),
            "shape": shape,
        }

    meta_graph = serving_meta_graph(export_dir, tag)
    result = {}
    for key, signature in meta_graph.signature_def.items():
        if key.startswith("__"):  # __saved_model_init_op and the like
            continue
        result[key] = {
            "inputs": {k: describe(v) for k, v in signature.inputs.items()},
            "outputs": {k: describe(v) for k, v in signature.outputs.items()},
        }
    return result
