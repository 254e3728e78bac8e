"""SavedModel export for TF Serving: `export_for_serving` and its checks."""

from keras_bigbird.export.check import check_export
from keras_bigbird.export.check import run_probe
from keras_bigbird.export.saved_model_info import op_names
from keras_bigbird.export.saved_model_info import signature_tensors
from keras_bigbird.export.saved_model_info import xla_functions
from keras_bigbird.export.serving import SERVE_TEXT
from keras_bigbird.export.serving import SERVING_DEFAULT
from keras_bigbird.export.serving import export_for_serving
from keras_bigbird.export.warmup import read_warmup_file
