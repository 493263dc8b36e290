"""Runs OpenStack Neutron's own functional tests (from the neutron==29.0.0 wheel, which ships
`neutron/tests/`) with a chosen program as `keepalived`, and writes each test's outcome as JSON.
Run it with the venv `cargo xtask setup` installs (<cache>/neutron-29.0.0/, with Neutron's test
requirements), as root.

    functional_tests.py --keepalived /usr/sbin/keepalived --out results.json --work DIR \
        [--auth-type PASS] [TEST ...]

TEST defaults to `neutron.tests.functional.agent.linux.test_keepalived` (a module, a class or
one test id, as unittest names them).

How the tests find `keepalived`: Neutron's `KeepalivedManager` runs
`ip netns exec <ns> env PROCESS_TAG=keepalived-<id> keepalived -P -f ... -p ... -r ...`
through the root helper, so `keepalived` is looked up on the PATH the L3 agent (here: this
process) passes down. This script makes `DIR/bin/keepalived`, a symlink to --keepalived, and puts
DIR/bin first on PATH (then the venv's bin, for `privsep-helper`, then the system's). The rest
of the environment (e.g. `VRRP_AGENT_SETTINGS` for our agent) reaches the process unchanged.

What Neutron's functional test job sets, set here the same way:

* `OS_SUDO_TESTING=1`: `BaseSudoTestCase` skips every test without it.
* `OS_ROOTWRAP_CMD=env`: the root helper Neutron prefixes to privileged commands and uses to
  start its privsep daemon. The gate uses `sudo neutron-rootwrap ...`; this process is root
  already (and the machine has no sudo), so the helper only has to run the command as given.
* `OS_LOG_PATH=DIR/logs`: each test's log (`dsvm-functional-logs/<test id>.txt`).
* `OS_TEST_TIMEOUT=180`: a hung test fails instead of hanging the run.

Adapted for this machine, and only where it lacks something (no assertion is touched):

* Dummy links. The tests make their interfaces with `IPWrapper.add_dummy`; this kernel has no
  `dummy` link type (creating one fails with EOPNOTSUPP). Where that happens the link is made
  as a veth pair instead, named as asked, its peer (`<name>-p`) up in the same namespace so that
  the link has a carrier like a dummy link has. A kernel with dummy links gets dummy links.

`--auth-type PASS` is a variant, not Neutron's test: it makes every `KeepalivedInstance` the
test builds use simple-password authentication instead of what the test asks for (Neutron's
keepalived tests configure `auth_type AH`). Output: a JSON object, one entry per test id, each
`{"outcome": "pass"|"fail"|"error"|"skip", "detail": "..."}` (detail: the skip reason or the
traceback), plus `_meta` with what was adapted.
"""

import argparse
import json
import os
import sys
import tempfile
import traceback
import unittest
import warnings

DEFAULT_TESTS = ["neutron.tests.functional.agent.linux.test_keepalived"]
EOPNOTSUPP = 95


def parse_args(argv):
    p = argparse.ArgumentParser(prog="functional_tests.py")
    p.add_argument("--keepalived", required=True, help="the program to run as keepalived")
    p.add_argument("--out", required=True, help="where to write the JSON results")
    p.add_argument("--work", help="working folder (default: a new temporary folder)")
    p.add_argument(
        "--auth-type",
        choices=["AH", "PASS"],
        help="variant: every keepalived instance uses this auth_type (default: as the test says)",
    )
    p.add_argument("tests", nargs="*", default=DEFAULT_TESTS)
    return p.parse_args(argv)


def prepare_environment(a, work):
    """The environment of Neutron's functional job, with a `keepalived` of our choice."""
    bindir = os.path.join(work, "bin")
    logs = os.path.join(work, "logs")
    os.makedirs(bindir, exist_ok=True)
    os.makedirs(logs, exist_ok=True)
    link = os.path.join(bindir, "keepalived")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.abspath(a.keepalived), link)
    venv_bin = os.path.dirname(sys.executable)
    os.environ["PATH"] = ":".join([bindir, venv_bin, "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
    os.environ["OS_SUDO_TESTING"] = "1"
    os.environ["OS_ROOTWRAP_CMD"] = "env"
    os.environ.pop("OS_ROOTWRAP_DAEMON_CMD", None)
    os.environ["OS_LOG_PATH"] = logs
    os.environ.setdefault("OS_TEST_TIMEOUT", "180")


ADAPTED = []


def adapt_dummy_links():
    """`add_dummy` falls back to a veth pair where the kernel has no dummy links."""
    from pyroute2.netlink import exceptions as nl_exc

    from neutron.agent.linux import ip_lib

    original = ip_lib.IPWrapper.add_dummy

    def add_dummy(self, name):
        try:
            return original(self, name)
        except nl_exc.NetlinkError as e:
            if e.code != EOPNOTSUPP:
                raise
        dev, peer = self.add_veth(name, f"{name}-p"[:15])
        peer.link.set_up()
        note = "dummy links unsupported by this kernel: veth pairs (peer up) instead"
        if note not in ADAPTED:
            ADAPTED.append(note)
        return dev

    ip_lib.IPWrapper.add_dummy = add_dummy


def force_auth_type(auth_type):
    from neutron.agent.linux import keepalived

    original = keepalived.KeepalivedInstance.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self.vrrp_auth_type:
            self.vrrp_auth_type = auth_type

    keepalived.KeepalivedInstance.__init__ = init
    ADAPTED.append(f"variant: every keepalived instance uses auth_type {auth_type}")


class JsonResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def _set(self, test, outcome, detail=""):
        self.outcomes[test.id()] = {"outcome": outcome, "detail": detail}
        print(f"{outcome:5} {test.id()}", file=sys.stderr, flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "fail", "".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        super().addError(test, err)
        self._set(test, "error", "".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skip", str(reason))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "xfail", "".join(traceback.format_exception(*err)))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass")


def main(argv):
    a = parse_args(argv)
    work = a.work or tempfile.mkdtemp(prefix="neutron-functional-")
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    prepare_environment(a, work)
    warnings.simplefilter("ignore")
    adapt_dummy_links()
    if a.auth_type:
        force_auth_type(a.auth_type)
    suite = unittest.defaultTestLoader.loadTestsFromNames(a.tests)
    result = JsonResult()
    suite.run(result)
    out = dict(result.outcomes)
    out["_meta"] = {
        "keepalived": os.path.abspath(a.keepalived),
        "tests": a.tests,
        "adapted": ADAPTED,
        "work": work,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
    counts = {}
    for k, v in result.outcomes.items():
        counts[v["outcome"]] = counts.get(v["outcome"], 0) + 1
    print(f"functional_tests.py: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
