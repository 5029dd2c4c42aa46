#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# boundaries.sh - each module includes only what docs/modules.md allows it to.
#
# One rule per module: the headers its files (and its private headers)
# must not include. An exception names the file, the header and why; it
# is reported, and goes when the reason does.
cd "$(dirname "$0")/.." || exit 1

# module  forbidden headers (an extended regular expression)
RULES='
smtp       <pcap\.h>|<nids\.h>|<json-c/|<pthread\.h>|"(capture|reassembly|detect|event|transcript|output|output_int|extract|authwatch|message_int|hashq|message|message_json)\.h"
message    <pcap\.h>|<nids\.h>|<pthread\.h>|"(capture|reassembly|detect|event|transcript|output|output_int|extract|smtp|smtp_int|hashq)\.h"
capture    <nids\.h>|<json-c/|"(smtp|smtp_int|message|message_int|message_json|event|output|reassembly)\.h"
reassembly <json-c/|"(smtp_int|message_int|output_int|message_json|output)\.h"
event      <pcap\.h>|<nids\.h>|"(smtp_int|message_int|output_int|capture|reassembly)\.h"
output     <pcap\.h>|<nids\.h>|"(smtp|smtp_int|message|message_int|message_json|event|transcript|capture|reassembly)\.h"
'
# file: header: why it is still there
EXCEPTIONS='
src/smtp/smtp_body.c "hashq.h" the decoder still drives the hashing thread: until a message-job module owns hashing and parsing (issue 13, item 1)
src/smtp/smtp_body.c "message.h" the decoder still runs the message parser (issue 13, item 1)
src/smtp/smtp_body.c "message_json.h" the decoder still renders the email object (issue 13, item 1)
src/smtp/smtp_reply.c "hashq.h" a new body after a 354 nobody asked for frees its hash job (issue 13, item 1)
src/smtp/smtp_txn.c "hashq.h" the digest is read when the transaction is written (issue 13, item 1)
'
# transcript.c is the event module's, but event.h is not its to include
EXTRA='
src/event/transcript.c "event.h"
'

echo "$RULES" | while read -r mod forbidden; do
	[ -n "$mod" ] || continue
	bad=0
	for f in src/$mod/*.[ch]; do
		grep -nE "^#[[:space:]]*include[[:space:]]*($forbidden)" "$f" |
		while IFS=: read -r line text; do
			hdr=$(echo "$text" | sed -E 's/^#[[:space:]]*include[[:space:]]*//')
			why=$(echo "$EXCEPTIONS" | grep -F "$f $hdr " | cut -d' ' -f3-)
			if [ -n "$why" ]; then
				echo "NOTE boundaries/$mod: $f:$line includes $hdr: $why"
			else
				echo "FAIL boundaries/$mod: $f:$line includes $hdr"
			fi
		done
	done >build/boundaries.$mod
	cat build/boundaries.$mod
	grep -q '^FAIL' build/boundaries.$mod ||
		echo "PASS boundaries/$mod"
done
echo "$EXTRA" | while read -r f hdr; do
	[ -n "$f" ] || continue
	if grep -qF "#include $hdr" "$f"; then
		echo "FAIL boundaries/$f: includes $hdr"
	else
		echo "PASS boundaries/$(basename "$f" .c)-without-$(echo "$hdr" | tr -d '"')"
	fi
done
