"""`TextDataInfo`: what a loader's labels mean."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class TextDataInfo:
    """The task of a dataset returned by `load_long_text` / `load_text_files`.

    Args:
        name: the dataset name or the path that was loaded.
        task: the task name (`"sentiment"`, `"abstract_length"`,
            `"cpc_section"`, `"source"`, `"classification"`), or `None` for
            unlabelled inputs.
        num_classes: the number of classes of a classification task, `None`
            for a regression task or unlabelled inputs.
        label_names: the class names, index = label, or `None`.
        description: one sentence on the text and the label.

    Example:

    ```python
    batches, info = load_long_text("imdb_reviews", "train", tokenizer=tok,
                                   packer=packer, with_info=True)
    head = keras.layers.Dense(info.num_classes)
    ```
    """

    name: str
    task: str = None
    num_classes: int = None
    label_names: tuple = None
    description: str = ""
