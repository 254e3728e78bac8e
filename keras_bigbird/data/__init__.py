"""Long-document datasets: TFDS and local files to length-bucketed batches."""

from keras_bigbird.data.batch_long_text import batch_long_text
from keras_bigbird.data.load_long_text import load_long_text
from keras_bigbird.data.load_long_text import supported_datasets
from keras_bigbird.data.load_text_files import load_text_files
from keras_bigbird.data.padding_efficiency import padding_efficiency
from keras_bigbird.data.text_data_info import TextDataInfo
