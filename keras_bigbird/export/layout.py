"""The TF Serving directory layout: `export_base/NAME/VERSION/`.

TF Serving watches `export_base/NAME` and serves the highest all-digit
subdirectory. A version is written under a hidden, non-numeric name first and
renamed into place when complete, so the server never loads half a model.
"""

import os
import re
import shutil
import tempfile

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_name(name):
    """Raises `ValueError` unless `name` is a usable model name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            "Received an invalid value for argument `name`, expected a model "
            "name of letters, digits, `_`, `.` and `-` (it is a directory "
            f"and part of the serving URL). Received: name={name!r}"
        )


def existing_versions(model_dir):
    """Sorted integer versions present in `model_dir` (empty if missing)."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry)
        for entry in os.listdir(model_dir)
        if entry.isdigit() and os.path.isdir(os.path.join(model_dir, entry))
    )


def next_version(model_dir):
    """One more than the highest existing version, or 1."""
    versions = existing_versions(model_dir)
    return versions[-1] + 1 if versions else 1


def resolve_version(model_dir, version, overwrite):
    """The version to write: `version`, or the next free one when None."""
    if version is None:
        return next_version(model_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            "Received an invalid value for argument `version`, expected a "
            f"positive integer or None. Received: version={version!r}"
        )
    target = os.path.join(model_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"Version {version} already exists at {target}. Pass "
            "`overwrite=True` to replace it, or `version=None` for the next "
            "free version."
        )
    return version


def staging_dir(model_dir, version):
    """A fresh hidden directory next to the final one (same filesystem)."""
    os.makedirs(model_dir, exist_ok=True)
    return tempfile.mkdtemp(prefix=f".partial-{version}-", dir=model_dir)


def publish(staged, model_dir, version):
    """Moves a complete `staged` export to `model_dir/version`."""
    target = os.path.join(model_dir, str(version))
    retired = None
    if os.path.exists(target):
        retired = tempfile.mkdtemp(
            prefix=f".replaced-{version}-", dir=model_dir
        )
        os.rename(target, os.path.join(retired, "old"))
    os.rename(staged, target)
    if retired is not None:
        shutil.rmtree(retired)
    return target
