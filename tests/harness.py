# SPDX-License-Identifier: GPL-2.0-or-later
"""harness.py - what the Python suites share: cases, checks, the binary, the runner.

    SUITE = Suite("extract")          # cases print "PASS extract/<name>"
    case = SUITE.case

    @case("content")
    def _():
        check(cond, "why it failed")  # raise Fail; raise Skip("why") to skip

    def main():
        global BIN, TMP
        BIN, TMP = SUITE.start()      # argv[1], default build/smtpscope-san
        return SUITE.run() if BIN else 1

A case that raises anything else fails too: a bug in a test still counts.
"""

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANITIZER_RE = re.compile(r"(Address|Leak|UndefinedBehavior|Memory|Thread)Sanitizer|runtime error:")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


class Result:
    """One run of the binary: exit status, stdout (bytes), stderr (text)."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.err_lines = err.splitlines()

    def brief(self):
        return "exit %s, stderr %r" % (self.rc, self.err[:300])


def check(cond, why):
    if not cond:
        raise Fail(why)


def one_line(e):
    return " ".join(str(e).split())


class Suite:
    """The cases of one suite, run in the order they were declared."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.tests = []
        self.tmp = None

    def case(self, name):
        def register(fn):
            self.tests.append((name, fn))
            return fn
        return register

    def start(self):
        """(binary, temporary directory), or (None, None) after a FAIL line
        when argv[1] (default build/smtpscope-san) is not an executable;
        a relative path is taken from the current directory when it is
        there, else from the repository root."""
        path = Path(sys.argv[1] if len(sys.argv) > 1 else "build/smtpscope-san")
        if not path.is_absolute():
            path = Path.cwd() / path if (Path.cwd() / path).exists() else ROOT / path
        if not os.access(str(path), os.X_OK):
            print("FAIL %s/binary: %s is not an executable file" % (self.prefix, path))
            return None, None
        self.tmp = tempfile.mkdtemp(prefix="smtpscope-%s-" % self.prefix)
        return str(path), self.tmp

    def run(self, only=(), cleanup=None):
        """Every case (or those named in only); 1 if any failed. The
        temporary directory goes at the end, after cleanup(tmp)."""
        failed = 0
        try:
            for name, fn in self.tests:
                if only and name not in only:
                    continue
                try:
                    fn()
                except Fail as e:
                    failed += 1
                    print("FAIL %s/%s: %s" % (self.prefix, name, one_line(e)), flush=True)
                except Skip as e:
                    print("SKIP %s/%s: %s" % (self.prefix, name, one_line(e)), flush=True)
                except Exception as e:  # a bug in the test itself still counts
                    failed += 1
                    print("FAIL %s/%s: %s: %s" % (self.prefix, name, type(e).__name__,
                                                 one_line(e)), flush=True)
                else:
                    print("PASS %s/%s" % (self.prefix, name), flush=True)
        finally:
            if cleanup:
                cleanup(self.tmp)
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 1 if failed else 0
