#!/bin/bash
# test_man_pages.sh - each man page matches its program's --help: every option --help lists is in the
# page, and man renders the page without a warning. jobtel(8) covers the front and prolog/epilog,
# jobtel-exporter(8) the daemon, jobstats(1) the report and `jobtel summary`, jobtel-targets(8)
# service discovery.
. "$(dirname "$0")/lib.sh"
command -v man >/dev/null || fail "man is missing (Debian: man-db)"
B=$(dirname "$JOBTEL")
M=$SRC/docs/man

render() { # page -> plain text, hyphens as typed
    MANWIDTH=250 LC_ALL=C.UTF-8 man --warnings -E ascii -l "$1" 2>"$T/warn" | col -b
    [ ! -s "$T/warn" ] || fail "man warns about $1: $(cat "$T/warn")"
}

# check PAGE CMD... : every --option in CMD's output appears in PAGE's text.
check() {
    local page=$1 text opts o missing=""
    shift
    text=$(render "$M/$page")
    opts=$("$@" 2>&1 | grep -oE -- '--(\[no-\])?[a-z][a-z0-9._-]*' | sed 's/[.-]*$//' | sort -u)
    [ -n "$opts" ] || fail "no options in the help of $*"
    for o in $opts; do
        grep -qF -- "$o" <<<"$text" || missing+=" $o"
    done
    [ -z "$missing" ] || fail "$page lacks options of '$*':$missing"
}

check jobtel.8 "$B/jobtel" --help
check jobtel.8 "$B/jobtel" prolog --help
check jobtel.8 "$B/jobtel" epilog --help
check jobtel.8 sh "$SRC/deploy/setup/jobtel-setup.sh" --help
for sub in exporter prolog epilog stats summary doctor targets setup; do
    grep -qE "^ +$sub( |$)" <(render "$M/jobtel.8") || fail "jobtel.8 does not describe 'jobtel $sub'"
done
check jobtel-exporter.8 "$B/jobtel-exporter" --help
check jobstats.1 "$B/jobstats" --help
check jobstats.1 "$B/jobtel" summary --help
check jobtel-targets.8 "$B/jobtel-targets" --help
check jobtel-doctor.8 "$B/jobtel-doctor" --help
pass "man pages list every option --help lists, and render cleanly"
