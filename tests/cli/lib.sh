# Sourced by the command-line tests (tests/cli/test_*.sh): the check counters with ok and
# bad, a temporary directory $tmp removed at exit (after cli_cleanup, which a test may
# redefine to stop what it started), and cli_finish, which prints the counts and fails the
# test when a check failed.
set -u
: "${LLMO:?set LLMO to the llmo binary}"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
cli_cleanup() { :; }
trap 'cli_cleanup; rm -rf "$tmp"' EXIT
# cli_finish [NAME]: "NAME: P passed, F failed"; the status is 1 when F > 0.
cli_finish() {
	echo "${1:+$1: }$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
