/* SPDX-License-Identifier: GPL-2.0-or-later */
/* smtp_replies.c - what a reply code and an enhanced status code mean. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp.h"

/* RFC 5321 4.2.2, 4.2.3 and the extensions that added codes. */
static const struct {
	int code;
	const char *meaning;
	const char *ref;
} codes[] = {
    {211, "system status, or system help reply", "RFC 5321"},
    {214, "help message", "RFC 5321"},
    {220, "service ready", "RFC 5321"},
    {221, "service closing the connection", "RFC 5321"},
    {235, "authentication succeeded", "RFC 4954"},
    {250, "requested mail action okay, completed", "RFC 5321"},
    {251, "user not local; will forward", "RFC 5321"},
    {252,
     "cannot verify the user, but will accept the message and attempt "
     "delivery",
     "RFC 5321"},
    {253, "pending messages for the node started (ETRN)", "RFC 1985"},
    {334, "authentication challenge: the server waits for a response",
     "RFC 4954"},
    {354, "start mail input; end with <CRLF>.<CRLF>", "RFC 5321"},
    {421, "service not available, closing the connection", "RFC 5321"},
    {432, "a password transition is needed", "RFC 4954"},
    {450,
     "mailbox unavailable (busy or temporarily blocked): not taken, "
     "try again later",
     "RFC 5321"},
    {451, "aborted: local error in processing", "RFC 5321"},
    {452,
     "not taken: insufficient system storage (or too many "
     "recipients)",
     "RFC 5321"},
    {454, "temporary authentication failure, or TLS not available now",
     "RFC 4954, RFC 3207"},
    {455, "server unable to accommodate the parameters", "RFC 5321"},
    {458, "unable to queue messages for the node (ETRN)", "RFC 1985"},
    {459, "node not allowed (ETRN)", "RFC 1985"},
    {500, "syntax error, command unrecognized (or line too long)", "RFC 5321"},
    {501, "syntax error in parameters or arguments", "RFC 5321"},
    {502, "command not implemented", "RFC 5321"},
    {503, "bad sequence of commands", "RFC 5321"},
    {504, "command parameter not implemented", "RFC 5321"},
    {521, "this host does not accept mail", "RFC 7504"},
    {530, "authentication required", "RFC 4954"},
    {534, "authentication mechanism is too weak", "RFC 4954"},
    {535, "authentication credentials invalid", "RFC 4954"},
    {538,
     "encryption required for the requested authentication "
     "mechanism",
     "RFC 4954"},
    {550,
     "not taken: mailbox unavailable (not found, no access, or "
     "refused by policy)",
     "RFC 5321"},
    {551, "user not local; please try another path", "RFC 5321"},
    {552, "aborted: exceeded storage allocation", "RFC 5321"},
    {553, "not taken: mailbox name not allowed", "RFC 5321"},
    {554, "transaction failed (at connection: no SMTP service here)",
     "RFC 5321"},
    {555, "MAIL FROM/RCPT TO parameters not recognized or not implemented",
     "RFC 5321"},
    {556, "the domain does not accept mail", "RFC 7504"},
};

/* RFC 3463 and the IANA registry (RFC 5248): the subject, X.Y. */
static const char *const subjects[] = {
    "other or undefined status",
    "addressing status",
    "mailbox status",
    "mail system status",
    "network and routing status",
    "mail delivery protocol status",
    "message content or media status",
    "security or policy status",
};

/* ... and the detail, X.Y.Z. */
static const struct {
	int subject, detail;
	const char *meaning;
	const char *ref;
} details[] = {
    {0, 0, "other undefined status", "RFC 3463"},
    {1, 0, "other address status", "RFC 3463"},
    {1, 1, "bad destination mailbox address", "RFC 3463"},
    {1, 2, "bad destination system address", "RFC 3463"},
    {1, 3, "bad destination mailbox address syntax", "RFC 3463"},
    {1, 4, "destination mailbox address ambiguous", "RFC 3463"},
    {1, 5, "destination address valid", "RFC 3463"},
    {1, 6, "destination mailbox has moved, no forwarding address", "RFC 3463"},
    {1, 7, "bad sender's mailbox address syntax", "RFC 3463"},
    {1, 8, "bad sender's system address", "RFC 3463"},
    {1, 9, "message relayed to a non-compliant mailer", "RFC 3886"},
    {1, 10, "recipient address has a null MX", "RFC 7505"},
    {2, 0, "other or undefined mailbox status", "RFC 3463"},
    {2, 1, "mailbox disabled, not accepting messages", "RFC 3463"},
    {2, 2, "mailbox full", "RFC 3463"},
    {2, 3, "message length exceeds the administrative limit", "RFC 3463"},
    {2, 4, "mailing list expansion problem", "RFC 3463"},
    {3, 0, "other or undefined mail system status", "RFC 3463"},
    {3, 1, "mail system full", "RFC 3463"},
    {3, 2, "system not accepting network messages", "RFC 3463"},
    {3, 3, "system not capable of the selected features", "RFC 3463"},
    {3, 4, "message too big for the system", "RFC 3463"},
    {3, 5, "system incorrectly configured", "RFC 3463"},
    {3, 6, "requested priority was changed", "RFC 6710"},
    {4, 0, "other or undefined network or routing status", "RFC 3463"},
    {4, 1, "no answer from host", "RFC 3463"},
    {4, 2, "bad connection", "RFC 3463"},
    {4, 3, "directory server failure", "RFC 3463"},
    {4, 4, "unable to route", "RFC 3463"},
    {4, 5, "mail system congestion", "RFC 3463"},
    {4, 6, "routing loop detected", "RFC 3463"},
    {4, 7, "delivery time expired", "RFC 3463"},
    {5, 0, "other or undefined protocol status", "RFC 3463"},
    {5, 1, "invalid command", "RFC 3463"},
    {5, 2, "syntax error", "RFC 3463"},
    {5, 3, "too many recipients", "RFC 3463"},
    {5, 4, "invalid command arguments", "RFC 3463"},
    {5, 5, "wrong protocol version", "RFC 3463"},
    {5, 6, "authentication exchange line is too long", "RFC 4954"},
    {6, 0, "other or undefined media error", "RFC 3463"},
    {6, 1, "media not supported", "RFC 3463"},
    {6, 2, "conversion required and prohibited", "RFC 3463"},
    {6, 3, "conversion required but not supported", "RFC 3463"},
    {6, 4, "conversion with loss performed", "RFC 3463"},
    {6, 5, "conversion failed", "RFC 3463"},
    {6, 6, "message content not available", "RFC 4468"},
    {6, 7, "non-ASCII addresses not permitted for that sender or recipient",
     "RFC 6531"},
    {6, 8, "UTF-8 string reply required, but not permitted by the client",
     "RFC 6531"},
    {6, 9,
     "UTF-8 header message cannot be transferred to one or more "
     "recipients",
     "RFC 6531"},
    {7, 0, "other or undefined security status", "RFC 3463"},
    {7, 1, "delivery not authorized, message refused", "RFC 3463"},
    {7, 2, "mailing list expansion prohibited", "RFC 3463"},
    {7, 3, "security conversion required but not possible", "RFC 3463"},
    {7, 4, "security features not supported", "RFC 3463"},
    {7, 5, "cryptographic failure", "RFC 3463"},
    {7, 6, "cryptographic algorithm not supported", "RFC 3463"},
    {7, 7, "message integrity failure", "RFC 3463"},
    {7, 8, "authentication credentials invalid", "RFC 4954"},
    {7, 9, "authentication mechanism is too weak", "RFC 4954"},
    {7, 10, "encryption needed", "RFC 5248"},
    {7, 11,
     "encryption required for the requested authentication "
     "mechanism",
     "RFC 4954"},
    {7, 12, "a password transition is needed", "RFC 4954"},
    {7, 13, "user account disabled", "RFC 5248"},
    {7, 14, "trust relationship required", "RFC 5248"},
    {7, 15, "priority level is too low", "RFC 6710"},
    {7, 16, "message is too big for the specified priority", "RFC 6710"},
    {7, 17, "mailbox owner has changed", "RFC 7293"},
    {7, 18, "domain owner has changed", "RFC 7293"},
    {7, 19, "RRVS test cannot be completed", "RFC 7293"},
    {7, 20, "no passing DKIM signature found", "RFC 7372"},
    {7, 21, "no acceptable DKIM signature found", "RFC 7372"},
    {7, 22, "no valid author-matched DKIM signature found", "RFC 7372"},
    {7, 23, "SPF validation failed", "RFC 7372"},
    {7, 24, "SPF validation error", "RFC 7372"},
    {7, 25, "reverse DNS validation failed", "RFC 7372"},
    {7, 26, "multiple authentication checks failed", "RFC 7372"},
    {7, 27, "sender address has a null MX", "RFC 7505"},
    {7, 29, "ARC validation failure", "RFC 8617"},
    {7, 30, "REQUIRETLS support required", "RFC 8689"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

const char *smtp_code_meaning(int code)
{
	size_t i;

	for (i = 0; i < N(codes); i++)
		if (codes[i].code == code)
			return codes[i].meaning;
	switch (code / 100) {
	case 2:
		return "success";
	case 3:
		return "intermediate: the server waits for more";
	case 4:
		return "transient failure: try again later";
	case 5:
		return "permanent failure";
	default:
		return NULL;
	}
}

/* "5.1.1" -> class, subject, detail; false when it is not one. */
static bool parse_enh(const char *e, int *cls, int *subj, int *det)
{
	char *end;
	long v[3];
	int i;

	for (i = 0; i < 3; i++) {
		if (*e < '0' || *e > '9')
			return false;
		v[i] = strtol(e, &end, 10);
		if (end - e > 3 || (i < 2 && *end != '.') || (i == 2 && *end))
			return false;
		e = end + 1;
	}
	*cls = (int)v[0], *subj = (int)v[1], *det = (int)v[2];
	return true;
}

const char *smtp_enhanced_meaning(const char *enh)
{
	int cls, subj, det;
	size_t i;

	if (!enh || !parse_enh(enh, &cls, &subj, &det))
		return NULL;
	for (i = 0; i < N(details); i++)
		if (details[i].subject == subj && details[i].detail == det)
			return details[i].meaning;
	return subj >= 0 && (size_t)subj < N(subjects) ? subjects[subj] : NULL;
}

size_t smtp_explain(int code, const char *enh, char *out, size_t n)
{
	const char *m = enh && enh[0] ? smtp_enhanced_meaning(enh) : NULL;
	int k;

	if (!m)
		m = smtp_code_meaning(code);
	if (!m || !n)
		return 0;
	/* the detail alone does not say it may pass later */
	k = snprintf(out, n, "%s%s", m,
		     code / 100 == 4 && enh && enh[0] == '4' &&
			     !strstr(m, "try again")
			 ? " (temporary: try again later)"
			 : "");
	return k < 0 ? 0 : (size_t)k < n ? (size_t)k : n - 1;
}

/* docs/replies.md: every code and enhanced code this file knows. */
void smtp_replies_doc(FILE *out)
{
	size_t i;

	fputs("<!-- SPDX-License-Identifier: GPL-2.0-or-later -->\n"
	      "# What the replies mean\n\n"
	      "Generated from `src/smtp/smtp_replies.c` (`make replies-doc`); "
	      "`make check` fails when it\ndiffers. smtpscope puts these "
	      "meanings in the detail of every reply alert,\nunder each error "
	      "reply of a transcript (`-T`), and prints them with\n"
	      "`smtpscope --explain CODE`. An enhanced status code (RFC 3463) "
	      "says more than\nthe basic code: it is used when the reply has "
	      "one.\n\n"
	      "## Reply codes (RFC 5321 4.2.2, 4.2.3)\n\n"
	      "| code | meaning | reference |\n|---|---|---|\n",
	      out);
	for (i = 0; i < N(codes); i++)
		fprintf(out, "| %d | %s | %s |\n", codes[i].code,
			codes[i].meaning, codes[i].ref);
	fputs("\n## Enhanced status codes (RFC 3463, IANA registry)\n\n"
	      "The class is the first digit: 2 success, 4 persistent "
	      "transient failure,\n5 permanent failure. Then the subject and "
	      "the detail:\n\n"
	      "| code | meaning | reference |\n|---|---|---|\n",
	      out);
	for (i = 0; i < N(details); i++)
		fprintf(out, "| X.%d.%d | %s | %s |\n", details[i].subject,
			details[i].detail, details[i].meaning, details[i].ref);
	fputs("\nAn unknown detail is explained by its subject:\n\n"
	      "| subject | meaning |\n|---|---|\n",
	      out);
	for (i = 0; i < N(subjects); i++)
		fprintf(out, "| X.%zu.* | %s |\n", i, subjects[i]);
}
