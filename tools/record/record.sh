#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Re-records the SMTP test captures in pcaps/ against a private loopback-only Postfix instance.
#
# Usage (as root, Debian 12):  tools/record/record.sh [OUTDIR] [SCENARIO...]
# OUTDIR defaults to pcaps/ at the top of the repository. With SCENARIO
# names (e.g. mime-attachments, or "mime" for all the mime-* ones) only those
# captures are recorded and the others are left as they are.
# Set KEEP_TMP=1 to keep the temporary Postfix directory (config, log, mail).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ALL_SCENARIOS=(helo-plain ehlo-pipelining rcpt-rejections errors-421 rset-noop-vrfy
               starttls auth-plain auth-login-fail two-messages mid-data-close ipv6
               mime-attachments mime-alternative mime-attached-eml mime-encoded-headers
               smuggling-accept-lf smuggling-accept-lfcrlf smuggling-accept-cr
               smuggling-reject-lf smuggling-reject-lfcrlf smuggling-reject-cr
               smuggling-normalize-lf relay-denied relay-open)
SMUGGLING=(smuggling-accept-lf smuggling-accept-lfcrlf smuggling-accept-cr
           smuggling-reject-lf smuggling-reject-lfcrlf smuggling-reject-cr
           smuggling-normalize-lf)
OUTDIR=
SELECTED=()
for arg in "$@"; do
    if [ "$arg" = mime ]; then
        SELECTED+=(mime-attachments mime-alternative mime-attached-eml mime-encoded-headers)
    elif [ "$arg" = smuggling ]; then
        SELECTED+=("${SMUGGLING[@]}")
    elif printf '%s\n' "${ALL_SCENARIOS[@]}" | grep -qxF -- "$arg"; then
        SELECTED+=("$arg")
    elif [ -z "$OUTDIR" ]; then
        OUTDIR=$arg
    else
        echo "record.sh: error: unknown scenario '$arg' (known: mime ${ALL_SCENARIOS[*]})" >&2
        exit 2
    fi
done
OUTDIR=${OUTDIR:-$HERE/../../pcaps}
PY=/usr/bin/python3
CLIENT=$HERE/client.py
AUTH_USER=alice
AUTH_REALM=example.test
AUTH_PASS=correct-horse-battery   # must match client.py
FILTER='tcp port 25 or tcp port 587'
PORTS_RE=':(25|587)$'

say() { echo "record.sh: $*"; }
die() { echo "record.sh: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"

# --- 1. packages --------------------------------------------------------------
PKGS=(postfix swaks tcpdump sasl2-bin libsasl2-modules libsasl2-modules-db
      openssl libnet-ssleay-perl python3 iproute2)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing missing packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Install postfix unconfigured: the system instance is not needed.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    say "+ apt-get update"
    apt-get update
    say "+ apt-get install -y --no-install-recommends ${missing[*]}"
    apt-get install -y --no-install-recommends "${missing[@]}"
else
    say "all needed packages are installed: ${PKGS[*]}"
fi

# --- 2. free ports 25 and 587 ---------------------------------------------------
listeners() { ss -Hltn | awk '{print $4}' | grep -E "$PORTS_RE" || true; }
if [ -n "$(listeners)" ]; then
    say "port 25/587 busy: $(listeners | tr '\n' ' ')"
    if command -v systemctl >/dev/null && systemctl is-active --quiet postfix 2>/dev/null; then
        say "stopping the system postfix: systemctl stop postfix"
        systemctl stop postfix
    elif postfix status >/dev/null 2>&1; then
        say "stopping the system postfix: postfix stop"
        postfix stop
    fi
    for _ in $(seq 20); do [ -z "$(listeners)" ] && break; sleep 0.5; done
    [ -z "$(listeners)" ] || { ss -Hltnp | grep -E ':(25|587) ' >&2 || true
                               die "something other than the system postfix holds port 25/587"; }
fi

# --- 3. private Postfix instance ------------------------------------------------
# tools/postfix-private.sh writes the config from main.cf.in and master.cf.in
# here, unchanged for ports 25 and 587 on 127.0.0.1 and [::1].
PRIVATE=$HERE/../postfix-private.sh
TMP=$(mktemp -d /tmp/smtpscope-record.XXXXXX)
chmod 755 "$TMP"
TCPDUMP_PID=
STARTED=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$TCPDUMP_PID" ] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
    fi
    if [ -n "$STARTED" ]; then
        "$PRIVATE" stop "$TMP" || true
    fi
    if [ $rc -ne 0 ] && [ -f "$TMP/postfix.log" ]; then
        echo "--- last lines of the private postfix log ---" >&2
        tail -n 30 "$TMP/postfix.log" >&2
    fi
    if [ "${KEEP_TMP:-0}" = 1 ]; then
        say "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "private postfix under $TMP"
# The submission service reads this sasldb (smtpd.conf.in).
mkdir -p "$TMP/sasl"
say "+ saslpasswd2 (sasldb user $AUTH_USER@$AUTH_REALM)"
printf '%s' "$AUTH_PASS" | saslpasswd2 -f "$TMP/sasl/sasldb2" -p -c -u "$AUTH_REALM" "$AUTH_USER"
chown postfix "$TMP/sasl/sasldb2"
chmod 600 "$TMP/sasl/sasldb2"

STARTED=1
"$PRIVATE" start --ipv6 --submission 587 "$TMP" 25

# --- 4. scenarios ----------------------------------------------------------------
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# capture NAME CMD...: record CMD's traffic on lo into OUTDIR/NAME.pcap
capture() {
    local name=$1; shift
    if [ ${#SELECTED[@]} -gt 0 ] && ! printf '%s\n' "${SELECTED[@]}" | grep -qxF -- "$name"; then
        return 0
    fi
    local out="$OUTDIR/$name.pcap" err="$TMP/tcpdump-$name.err"
    say "=== $name:$(printf ' %q' "$@" | sed "s|$HERE/||g")"
    rm -f "$out"
    tcpdump -i lo -w "$out" -s 0 -U -Z root "$FILTER" 2>"$err" &
    TCPDUMP_PID=$!
    for i in $(seq 100); do
        grep -q 'listening on' "$err" 2>/dev/null && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$err" >&2; die "tcpdump failed"; }
        [ "$i" = 100 ] && die "tcpdump not ready"
        sleep 0.1
    done
    local rc=0
    "$@" >"$TMP/client-$name.log" 2>&1 || rc=$?
    sleep 1   # let the FIN/ACK exchange reach the capture
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    sed 's/^/    /' "$TMP/client-$name.log"
    grep -E 'packets? (captured|dropped)' "$err" | sed 's/^/    tcpdump: /'
    [ $rc -eq 0 ] || die "client for $name failed (exit $rc)"
}

SWAKS=(swaks --timeout 15 --helo client.test --from alice@client.test)
BODY=$'Hello Bob,\n\nthis is a test message.\n\nAlice'

capture helo-plain       "$PY" "$CLIENT" helo-plain
capture ehlo-pipelining  "${SWAKS[@]}" --server 127.0.0.1 --port 25 --pipeline \
    --to bob@example.test,carol@example.test \
    --header "Subject: Pipelined EHLO test" \
    --header "Message-Id: <ehlo-pipelining@client.test>" --body "$BODY"
capture rcpt-rejections  "$PY" "$CLIENT" rcpt-rejections
capture errors-421       "$PY" "$CLIENT" errors-421
capture rset-noop-vrfy   "$PY" "$CLIENT" rset-noop-vrfy
capture starttls         "${SWAKS[@]}" --server 127.0.0.1 --port 25 --tls \
    --to bob@example.test --header "Subject: Sent inside STARTTLS" \
    --header "Message-Id: <starttls@client.test>" --body "$BODY"
capture auth-plain       "$PY" "$CLIENT" auth-plain
capture auth-login-fail  "$PY" "$CLIENT" auth-login-fail
capture two-messages     "$PY" "$CLIENT" two-messages
capture mid-data-close   "$PY" "$CLIENT" mid-data-close
capture ipv6             "${SWAKS[@]}" --server ::1 --port 25 \
    --to bob@example.test --header "Subject: Over IPv6" \
    --header "Message-Id: <ipv6@client.test>" --body "$BODY"
# MIME messages built with the email package; the files they attach are
# written to OUTDIR/mime-files (tests/email_object.py checks sizes and hashes).
for m in mime-attachments mime-alternative mime-attached-eml mime-encoded-headers; do
    capture "$m"         "$PY" "$CLIENT" "$m" "$OUTDIR/mime-files"
done

# SMTP smuggling against each reading of a bare-LF end of data
# (smtpd_forbid_bare_newline, Postfix >= 3.7.10): "no" takes <LF>.<LF> and
# <LF>.<CR><LF> as the end, "reject" and "normalize" read on to
# <CR><LF>.<CR><LF>. The exclusions default to $mynetworks, which holds
# the loopback client: emptied.
bare_newline() {
    postconf -c "$TMP/conf" -e "smtpd_forbid_bare_newline = $1" \
        "smtpd_forbid_bare_newline_exclusions ="
    postfix -c "$TMP/conf" reload >/dev/null 2>&1
    sleep 1   # new smtpd processes read it
}
for m in accept reject normalize; do
    if [ $m = accept ]; then bare_newline no; else bare_newline $m; fi
    for f in lf lfcrlf cr; do
        [ $m = normalize ] && [ $f != lf ] && continue
        capture "smuggling-$m-$f" "$PY" "$CLIENT" "smuggle-$f"
    done
done
bare_newline no

# Relaying: the instance's own rules refuse mail for other domains from a
# client that did not authenticate (smtpd_relay_restrictions =
# permit_sasl_authenticated, reject_unauth_destination); then the usual
# open relay, a mynetworks that holds the client (here loopback: Postfix
# refuses a rule set without reject_unauth_destination), whose mail for
# elsewhere is discarded (the error transport would refuse it at RCPT).
capture relay-denied "$PY" "$CLIENT" relay-denied
relay_restrictions=$(postconf -c "$TMP/conf" -h smtpd_relay_restrictions)
default_transport=$(postconf -c "$TMP/conf" -h default_transport)
recipient_restrictions=$(postconf -c "$TMP/conf" -h smtpd_recipient_restrictions)
postconf -c "$TMP/conf" -e \
    "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination" \
    "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination" \
    "default_transport = discard:open relay test" \
    "relay_transport = discard:open relay test"
postfix -c "$TMP/conf" reload >/dev/null 2>&1
sleep 1
capture relay-open "$PY" "$CLIENT" relay-open
postconf -c "$TMP/conf" -e "smtpd_relay_restrictions = $relay_restrictions" \
    "smtpd_recipient_restrictions = $recipient_restrictions" \
    "default_transport = $default_transport" "relay_transport = $default_transport"

# Delivered mail must have stayed in the temp dir.
say "delivered messages: $(find "$TMP/mail" -type f -path '*/new/*' | wc -l) (in \$TMP/mail, removed at exit)"
if [ ${#SELECTED[@]} -gt 0 ]; then
    say "done: recorded ${SELECTED[*]} in $OUTDIR"
else
    say "done: $(find "$OUTDIR" -maxdepth 1 -name "*.pcap" | wc -l) captures in $OUTDIR"
fi
