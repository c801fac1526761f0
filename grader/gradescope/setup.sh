#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image. The autograder zip holds
# this repository; Gradescope unpacks it in /autograder/source.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
python3 -m pip install --no-cache-dir -e .
# The secret of the hidden cases: the one zipped with the source, else a new one for this image.
python3 -m grader.secret
