"""Summaries of the oracle test runs of `device_check.sh` (JUnit XML).

    python benchmarks/device_oracle.py OUT.json run1.xml [run2.xml ...]

Reads every test case of the runs and writes, per dtype group,
`{passed, failed, errors, skipped, seconds, failures: [...]}`: `bfloat16`
holds the cases with `bfloat16` in their name (the `mixed_bfloat16` tests
against the float64 oracle), `float32` all the others (float32, and the
`mixed_float16` cases). Exits 1 when a group has a failure or an error,
passed nothing, or a run did not finish: `runs` has each run's pytest
exit status (from `RUN.status` beside `RUN.xml`, written by
`device_check.sh`; 0 all passed, 1 a test failed, 2 stopped by the time
guard's SIGINT, 124/137 killed, 5 no test collected), and a run without
an XML report is named under `missing`.
"""

import json
import os
import sys
import xml.etree.ElementTree as ElementTree

GROUPS = ("bfloat16", "float32")


def group_of(name):
    return "bfloat16" if "bfloat16" in name else "float32"


def summarize(paths):
    result = {
        group: dict(passed=0, failed=0, errors=0, skipped=0, seconds=0.0,
                    failures=[])
        for group in GROUPS
    }
    result["missing"] = []
    result["runs"] = {}
    for path in paths:
        status_path = os.path.splitext(path)[0] + ".status"
        if os.path.exists(status_path):
            with open(status_path) as f:
                result["runs"][os.path.basename(path)] = int(f.read().strip() or -1)
        if not os.path.exists(path):
            result["missing"].append(os.path.basename(path))
            continue
        root = ElementTree.parse(path).getroot()
        for case in root.iter("testcase"):
            if case.get("name") is None:
                continue  # the test a SIGINT interrupted: not a result
            name = f"{case.get('classname')}::{case.get('name')}"
            counts = result[group_of(name)]
            counts["seconds"] += float(case.get("time", 0) or 0)
            if case.find("failure") is not None:
                counts["failed"] += 1
                counts["failures"].append(name)
            elif case.find("error") is not None:
                counts["errors"] += 1
                counts["failures"].append(name)
            elif case.find("skipped") is not None:
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
    return result


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out, paths = argv[0], argv[1:]
    result = summarize(paths)
    ok = not result["missing"] and not any(result["runs"].values())
    for group in GROUPS:
        item = result[group]
        if item["failed"] or item["errors"] or not item["passed"]:
            ok = False
        print(f"oracle {group}: {item['passed']} passed, {item['failed']} "
              f"failed, {item['errors']} errors, {item['skipped']} skipped "
              f"({item['seconds']:.0f} s in the tests)")
        for name in item["failures"][:20]:
            print(f"  FAILED {name}")
    for run, status in result["runs"].items():
        if status:
            print(f"oracle run {run}: pytest exit status {status}"
                  + (" (stopped by the time guard)" if status in (2, 124, 137) else ""))
    if result["missing"]:
        print(f"oracle runs without a report (stopped): {result['missing']}")
    result["ok"] = ok
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
