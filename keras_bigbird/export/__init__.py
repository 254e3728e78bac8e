"""SavedModel export for TF Serving, and its verification.

What users call: `export_for_serving` (the Python API), `check_export`
(serve an export from a clean process and compare it with the model) and
the `keras-bigbird export` command (`keras_bigbird.export.command`). The
modules hold one concern each: `serving` builds the served functions,
`signatures` holds their names and input checks, `layout` the TF Serving
directory and warmup file, `check` the verification and `serving_probe`
the clean-process client.
"""

from keras_bigbird import _exports

_exports.exports(
    globals(),
    names={
        "check_export": ".check",
        "export_for_serving": ".serving",
    },
)
