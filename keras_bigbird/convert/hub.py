"""`hf://owner/name`: transformers checkpoints from the Hugging Face Hub.

Only the files a conversion reads are downloaded (config, weights, the
SentencePiece model and its special tokens), with `huggingface_hub`'s
`snapshot_download` into its cache (`HF_HUB_CACHE`, default
`~/.cache/huggingface/hub`), so a second load reads the cache; with
`HF_HUB_OFFLINE=1` only the cache is read.
"""

import os

from keras_bigbird.convert import checkpoint

PREFIX = "hf://"

# Read by every conversion; the weights are asked for in a second call
# only when the repository has no safetensors (it may hold both formats).
_COMMON_FILES = (
    "config.json",
    "spiece.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
_SAFETENSORS_FILES = (checkpoint.SAFETENSORS, checkpoint.SAFETENSORS_INDEX,
                      "model-*-of-*.safetensors")
_PYTORCH_FILES = (checkpoint.PYTORCH, checkpoint.PYTORCH_INDEX,
                  "pytorch_model-*-of-*.bin")
_TRUE = ("1", "on", "true", "yes")


def is_hub_name(preset):
    return isinstance(preset, str) and preset.startswith(PREFIX)


def _offline():
    # Read at each call (as HF_HUB_CACHE below): huggingface_hub reads
    # them only when it is imported.
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE


def download(preset):
    """The local directory of the Hub checkpoint `preset` (`hf://owner/name`).

    Raises `ValueError` naming `preset` and the reason when the Hub cannot
    be reached (no network, `HF_HUB_OFFLINE=1` and nothing cached), the
    repository does not exist, or `huggingface_hub` is not installed.
    """
    repo_id = preset[len(PREFIX):]

    def fail(reason):
        return ValueError(
            f"Cannot load preset={preset!r} from the Hugging Face Hub: "
            f"{reason}"
        )

    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise fail(
            "expected 'hf://owner/name', e.g. 'hf://google/bigbird-roberta-base'"
        )
    try:
        import huggingface_hub
    except ImportError:
        raise fail(
            "this needs the `huggingface_hub` package (`pip install "
            "huggingface_hub`)."
        ) from None

    def snapshot(patterns):
        try:
            return huggingface_hub.snapshot_download(
                repo_id,
                allow_patterns=list(patterns),
                local_files_only=_offline(),
                # None: huggingface_hub's default, read when it was imported.
                cache_dir=os.environ.get("HF_HUB_CACHE") or None,
            )
        # Offline, no network, unknown or gated repository (OSError), a bad
        # id (ValueError); the message's first lines say which.
        except (OSError, ValueError) as error:
            if _offline():
                raise fail(
                    "HF_HUB_OFFLINE is set and the files are not in the "
                    "huggingface_hub cache; unset it to download them."
                ) from None
            lines = [line for line in str(error).splitlines() if line.strip()]
            reason = " ".join(lines[:2]) or type(error).__name__
            raise fail(f"{type(error).__name__}: {reason}") from None

    directory = snapshot(_COMMON_FILES + _SAFETENSORS_FILES)
    files = set(os.listdir(directory))
    if not files & {checkpoint.SAFETENSORS, checkpoint.SAFETENSORS_INDEX}:
        directory = snapshot(_PYTORCH_FILES)
    if "config.json" not in os.listdir(directory):
        raise fail(
            "the repository has no config.json: it is not a transformers "
            "checkpoint."
        )
    return directory
