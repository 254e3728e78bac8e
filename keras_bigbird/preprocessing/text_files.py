"""The user's text files: existence and UTF-8 checks that name the file."""

import codecs
import os


def check_file_exists(argument, path, what):
    """Raises a `ValueError` naming `argument` if `path` is not a file."""
    if not os.path.isfile(path):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: the {what} "
            f"does not exist. Received: {argument}={os.fspath(path)!r}"
        )


def read_text_file(path):
    """Returns the text of the UTF-8 file `path`, without a byte-order mark.

    Bytes that are not UTF-8 raise a `ValueError` naming the file, the byte
    offset and the line (Python's own error names neither the file nor,
    when the file is read in chunks, the true offset).
    """
    with open(path, "rb") as f:
        data = f.read()
    # Excel writes "UTF-8 CSV" with a byte-order mark, which would otherwise
    # be part of the first column's name.
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise ValueError(
            f"Received a file that is not UTF-8 text: {os.fspath(path)} at "
            f"byte offset {offset} (line {line}: "
            f"{error.reason}). Save it as UTF-8. Received: bytes "
            f"{data[offset : offset + 8]!r}"
        ) from None
