#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Starts and stops a private, loopback-only Postfix instance in a directory of its own.
#
# Usage (as root):
#   tools/postfix-private.sh start [--ipv6] [--submission PORT] DIR PORT
#   tools/postfix-private.sh stop DIR
#
# start lays out DIR (created if missing; it and its parents must be
# searchable by user postfix): conf/, queue/, data/, mail/, tls/, sasl/ and
# postfix.log. It writes conf/main.cf and conf/master.cf from the templates
# in tools/record/ and starts "postfix -c DIR/conf start", which listens on
# 127.0.0.1:PORT (and [::1]:PORT with --ipv6), plus a submission service with
# SASL AUTH on --submission PORT. Its name is mx.example.test; example.test
# is delivered into Maildirs under DIR/mail, nothing is relayed and no mail
# leaves the machine (see pcaps/README.md). A sasldb already at
# DIR/sasl/sasldb2 is used by the submission service; none is created here.
# The system Postfix (/etc/postfix, port 25) is neither used nor touched.
#
# stop stops the instance and waits until all its processes are gone; DIR is
# left for the caller to remove.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEMPLATES=$HERE/record

say() { echo "postfix-private.sh: $*"; }
die() { echo "postfix-private.sh: error: $*" >&2; exit 1; }
usage() {
    echo "usage: postfix-private.sh start [--ipv6] [--submission PORT] DIR PORT" >&2
    echo "       postfix-private.sh stop DIR" >&2
    exit 2
}
port_ok() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

# listening ADDR:PORT...: true when every one has a listening TCP socket
listening() {
    command -v ss >/dev/null || return 0   # "postfix start" waited for the master already
    local now w
    now=$(ss -Hltn | awk '{print $4}')
    for w in "$@"; do grep -qxF "$w" <<<"$now" || return 1; done
}

start() {
    local ipv6='' sub=''
    while [ $# -gt 0 ]; do
        case $1 in
        --ipv6) ipv6=1; shift ;;
        --submission) [ $# -ge 2 ] || usage; sub=$2; shift 2 ;;
        -*) usage ;;
        *) break ;;
        esac
    done
    [ $# -eq 2 ] || usage
    local dir=$1 port=$2
    port_ok "$port" || die "invalid port '$port'"
    [ -z "$sub" ] || port_ok "$sub" || die "invalid submission port '$sub'"
    [ "$(id -u)" = 0 ] || die "must run as root"
    command -v postfix >/dev/null || die "postfix is not installed"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local conf=$dir/conf
    [ ! -e "$conf/main.cf" ] || die "$dir already holds an instance"

    # The daemons run as postfix and must traverse DIR.
    chmod 755 "$dir"
    mkdir -p "$conf/sasl" "$dir/queue" "$dir/data" "$dir/mail" "$dir/tls" "$dir/sasl"
    subst() { sed -e "s|@TMP@|$dir|g" -e "s|@CONF@|$conf|g" "$1" >"$2"; }
    subst "$TEMPLATES/main.cf.in" "$conf/main.cf"
    subst "$TEMPLATES/master.cf.in" "$conf/master.cf"
    subst "$TEMPLATES/smtpd.conf.in" "$conf/sasl/smtpd.conf"
    cp "$TEMPLATES/vmailbox" "$TEMPLATES/rcpt_access" "$conf/"
    chown postfix "$dir/data"
    chown 65534:65534 "$dir/mail"
    if command -v runuser >/dev/null && ! runuser -u postfix -- test -w "$dir/data"; then
        die "user postfix cannot write to $dir/data: every parent of $dir must be searchable by it"
    fi

    # The templates listen on 127.0.0.1 and [::1], ports 25 and 587: change
    # only what differs, so that record.sh gets the templates unchanged.
    if [ -z "$ipv6" ]; then
        postconf -c "$conf" -e "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
            "mynetworks = 127.0.0.0/8"
    fi
    [ "$port" = 25 ] || sed -i "s/^smtp\\( *\\)inet /$port\\1inet /" "$conf/master.cf"
    if [ -z "$sub" ]; then
        postconf -c "$conf" -MX submission/inet
    elif [ "$sub" != 587 ]; then
        sed -i "s/^submission\\( *\\)inet /$sub\\1inet /" "$conf/master.cf"
    fi

    say "+ openssl req -x509 (self-signed certificate for mx.example.test)"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
        -subj "/CN=mx.example.test" -addext "subjectAltName=DNS:mx.example.test" \
        -keyout "$dir/tls/key.pem" -out "$dir/tls/cert.pem" 2>/dev/null
    chmod 600 "$dir/tls/key.pem"

    say "+ postfix -c $conf check && start"
    postfix -c "$conf" check
    if ! postfix -c "$conf" start; then
        [ -f "$dir/postfix.log" ] && tail -n 20 "$dir/postfix.log" >&2
        stop "$dir"
        die "the private postfix did not start"
    fi

    local wanted=("127.0.0.1:$port") i
    [ -z "$ipv6" ] || wanted+=("[::1]:$port")
    if [ -n "$sub" ]; then
        wanted+=("127.0.0.1:$sub")
        [ -z "$ipv6" ] || wanted+=("[::1]:$sub")
    fi
    for i in $(seq 40); do
        listening "${wanted[@]}" && break
        if [ "$i" = 40 ]; then
            stop "$dir"
            die "the private postfix did not start listening on ${wanted[*]}"
        fi
        sleep 0.25
    done
    say "private postfix listening on ${wanted[*]}"
}

stop() {
    [ $# -eq 1 ] || usage
    local dir conf pid
    dir=$(cd "$1" && pwd) || die "no directory $1"
    conf=$dir/conf
    [ -f "$conf/main.cf" ] || return 0
    pid=$(sed -n '1{s/ //g;p}' "$dir/queue/pid/master.pid" 2>/dev/null || true)
    say "stopping the private postfix: postfix -c $conf stop"
    postfix -c "$conf" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        if kill -0 "$pid" 2>/dev/null; then
            say "master $pid still running, killing it"
            kill -9 "$pid" || true
        fi
    fi
    # Every daemon of this instance runs with DIR/queue as its working directory.
    local left p
    for _ in $(seq 40); do
        left=()
        for p in /proc/[0-9]*; do
            [ "$(readlink "$p/cwd" 2>/dev/null)" = "$dir/queue" ] && left+=("${p#/proc/}")
        done
        [ ${#left[@]} -eq 0 ] && return 0
        sleep 0.25
    done
    say "killing what is left of the instance: ${left[*]}"
    kill -9 "${left[@]}" 2>/dev/null || true
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) start "$@" ;;
stop) stop "$@" ;;
*) usage ;;
esac
