#!/usr/bin/env bash
# Peak resident memory (VmHWM) of `seatledger serve` after the same workload on a database of
# 1,000 learners and on one of COMPANIES x LEARNERS (default 10,000 x 100: a million), both
# SQLite; prints both and the ratio (the target is at most 1.2).
#
# The workload: a company manager of a 100-learner company signs in and reads every company
# page 20 times, while the expiry pass and the delivery workers run as in production.
#
# Usage: scripts/memory.sh [COMPANIES [LEARNERS]]
set -euo pipefail
companies=${1:-10000}
learners=${2:-100}
cd "$(dirname "$0")/.."
bin=${SEATLEDGER_BIN:-target/release/seatledger}
[ -x "$bin" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now=2026-11-26T09:00:00Z

workload() {
    local url=$1 jar=$work/cookies
    rm -f "$jar"
    # The sign-in form's token, bound to the visitor cookie the same page sets.
    local csrf
    csrf=$(curl -s -c "$jar" "$url/sign-in" | grep -o 'name="csrf" value="[^"]*"' | head -n1 |
        sed 's/.*value="//; s/"$//')
    local to
    to=$(curl -s -b "$jar" -c "$jar" -o /dev/null -w '%{redirect_url}' \
        --data-urlencode "csrf=$csrf" --data-urlencode "email=manager.3@bench.example" \
        --data-urlencode "password=demo-password" "$url/sign-in")
    [[ $to == */company ]] || { echo "sign-in failed (redirected to '$to')" >&2; exit 1; }
    for _ in $(seq 20); do
        for page in /company "/company/licenses?tab=available" "/company/licenses?tab=allocated" \
            "/company/licenses?tab=expiring" "/company/licenses?tab=expired" /company/users; do
            code=$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' "$url$page")
            [[ $code == 200 ]] || { echo "$page answered $code" >&2; exit 1; }
        done
    done
}

peak() {
    local name=$1 db="sqlite://$work/$1.db"
    "$bin" --database "$db" demo --companies "$2" --learners "$3" --now "$now" >&2
    "$bin" --database "$db" serve --listen 127.0.0.1:0 --now "$now" \
        --pass-interval 1 --delivery-interval 1 >"$work/$name.out" 2>"$work/$name.err" &
    local pid=$! url=""
    for _ in $(seq 300); do
        url=$(grep -o 'serving on http://[0-9.:]*' "$work/$name.out" | cut -d' ' -f3 || true)
        [[ -n $url ]] && break
        sleep 0.1
    done
    [[ -n $url ]] || { cat "$work/$name.err" >&2; exit 1; }
    workload "$url"
    sleep 2 # two more passes and delivery rounds
    local kb
    kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid"
    echo "$kb"
}

small=$(peak small 10 100)
large=$(peak large "$companies" "$learners")
echo "peak RSS of serve: 1000 learners $((small / 1024)) MiB, $((companies * learners)) learners $((large / 1024)) MiB, ratio $(awk "BEGIN {printf \"%.2f\", $large / $small}")x"
