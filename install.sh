#!/bin/sh
# Install gitlane into a virtual environment and generate the shim launchers.
# Idempotent. Never puts a `git` on the default PATH: opting in is explicit
# (`eval "$(shim/gitlane activate)"`).
#
#   ./install.sh [--dev] [--venv DIR] [--python PYTHON]
set -eu
here=$(cd "$(dirname "$0")" && pwd -P)
venv=$here/.venv
python=${PYTHON:-python3}
extra=
while [ $# -gt 0 ]; do
  case $1 in
    --dev) extra='[test]' ;;
    --venv) venv=$2; shift ;;
    --venv=*) venv=${1#--venv=} ;;
    --python) python=$2; shift ;;
    --python=*) python=${1#--python=} ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "install.sh: gitlane needs Python 3.11 or newer ($python is older)" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
venv=$(cd "$venv" && pwd -P)
py=$venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check -e "$here$extra"
"$py" -m gitlane.launchers "$here/shim" --src "$here/src"
echo "gitlane installed in $venv"
echo "To open a session in this shell:"
echo "  eval \"\$($here/shim/gitlane activate)\""
