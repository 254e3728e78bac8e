"""`Backbone`: the base of encoders that task models sit on."""

from keras_bigbird.models.functional_model import FunctionalModel
from keras_bigbird.models.serving_facts import ServingFacts


class Backbone(FunctionalModel):
    """A functional encoder from token ids to contextual embeddings.

    In the manner of keras-hub's `Backbone`: built in `__init__` from its
    config, with dict inputs (`token_ids`, `padding_mask` and optional
    ones) and dict outputs (`sequence_output`, `pooled_output`). A `Task`
    puts a head on it, and a `BigBirdPreprocessor` is made for it with
    `BigBirdPreprocessor.from_encoder`.

    Subclasses set the attributes tasks, preprocessors and the export read:
    `vocabulary_size`, `max_sequence_length`, `block_size`,
    `num_segments` and `max_global_tokens` (0 when the encoder takes no
    `global_mask`).
    """

    vocabulary_size = None
    max_sequence_length = None
    block_size = None
    num_segments = 0
    max_global_tokens = 0

    def serving_facts(self):
        """What `export_for_serving` checks and serves (`ServingFacts`):
        the longest input, the vocabulary and segment sizes; the dict
        outputs are served under their names."""
        return ServingFacts(
            max_sequence_length=self.max_sequence_length,
            vocabulary_size=self.vocabulary_size,
            num_segments=self.num_segments,
        )
