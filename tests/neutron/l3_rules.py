"""Writes the iptables and ip6tables rules of an OpenStack Neutron HA router into an existing
network namespace, with Neutron's own code (PyPI neutron==29.0.0, installed by `cargo xtask
setup` into <cache>/neutron-29.0.0/; run it with that venv's python, as root).

Nothing here builds a rule by hand. The router is a real `neutron.agent.l3.ha_router.HaRouter`
(the class the L3 agent instantiates for `ha: True` routers) built from a router dict shaped like
the one the Neutron server sends the agent over RPC, with the L3 agent's own configuration
options (`neutron.agent.l3_agent.register_opts`), the null interface driver (its DEV_NAME_LEN
makes the names `qr-`/`qg-` + the first 11 characters of the port id) and privsep running in
this process. Its `IptablesManager` (chain prefix `neutron-l3-agent`, from argv[0] as in the
agent) writes the rules the way the agent does: `iptables-save` of the namespace, a diff against
the rules it holds in memory, `iptables-restore -n` of the diff.

The calls are the iptables part of what the L3 agent does:

* router created (`L3NATAgent._process_added_router`): `RouterInfo.process()` then the
  ROUTER AFTER_CREATE callback of the metadata driver. Of `process()`, the parts that touch
  iptables are `process_external()`, i.e. inside `iptables_manager.defer_apply()`
  `_handle_router_snat_rules()` (from `_process_external_gateway`, SNAT of the gateway port) and
  `process_snat_dnat_for_fip()` (`process_floating_ip_nat_rules()`: DNAT/SNAT per floating IP),
  then `process_address_scope()` (the `scope` chains that keep address scopes apart). The
  callback is `neutron.agent.metadata.driver.apply_metadata_nat_rules()` (metadata REDIRECT and
  INPUT rules). The constructor itself adds the address scope and metadata mark chains.
* router updated (`--update`: the floating IPs changed, `_process_updated_router` ->
  `RouterInfo.process()`): the same `process_external()` and `process_address_scope()` calls on
  the router object the agent keeps between updates. A running agent holds in memory the rules
  it wrote when the router was created; this process rebuilds that memory first by replaying the
  creation with the writes switched off (`rebuilt_agent_memory`), then runs the update for real,
  so the diff Neutron computes against `iptables-save` and sends with `iptables-restore -n` is
  the one the agent would send. (Which floating IPs the replay uses does not matter:
  `process_floating_ip_nat_rules` clears every rule tagged `floating_ip` before adding the new
  ones.)
* `--emit-templates DIR` writes the fixture `tests/src/neutron_rules.rs` fills in (see
  tests/fixtures/neutron/README.md): a router created with recognisable values in a scratch
  namespace, saved with iptables-save/ip6tables-save, the values replaced by placeholders.

Interface names: `--qr-port-id X` makes `qr-` + X[:11]; `--qg-port-id Y` makes `qg-` + Y[:11].
Exits non-zero with Neutron's error (and Neutron's log of the failed iptables-restore input) on
failure.
"""

import argparse
import contextlib
import ipaddress
import os
import subprocess
import sys
import tempfile
import types
import warnings

# The chain prefix is the binary name, read from argv[0] when Neutron's iptables module is
# imported: be the L3 agent.
sys.argv[0] = "/usr/bin/neutron-l3-agent"
# Eventlet (imported by Neutron's dependencies) warns on stderr that it is deprecated.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from oslo_config import cfg  # noqa: E402

from neutron import privileged  # noqa: E402
from neutron.agent import l3_agent  # noqa: E402
from neutron.agent.l3 import ha_router  # noqa: E402
from neutron.agent.linux import interface  # noqa: E402
from neutron.agent.linux import ip_lib  # noqa: E402
from neutron.agent.metadata import driver as metadata_driver  # noqa: E402
from neutron.conf.agent import common as agent_config  # noqa: E402

def boolean(text):
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="l3_rules.py",
        description="Write a Neutron HA router's iptables/ip6tables rules into a namespace, "
        "with Neutron's own code.",
    )
    p.add_argument("--netns", help="the existing network namespace to write into")
    p.add_argument("--router-id", default="8f4e2e1c-0d3b-4c5a-9e7f-1a2b3c4d5e6f")
    p.add_argument(
        "--qr-port-id",
        action="append",
        default=[],
        help="an internal (qr-) port; repeat for several, each followed by its --qr-subnet",
    )
    p.add_argument(
        "--qr-subnet",
        action="append",
        default=[],
        help="the router's address on that port's subnet, e.g. 10.0.10.1/24 (several "
        "comma-separated for a port on several subnets, e.g. 10.0.10.1/24,fd00:10::1/64)",
    )
    p.add_argument("--qg-port-id", help="the gateway (qg-) port")
    p.add_argument(
        "--gateway-ip",
        help="the gateway port's address(es) on the external network, e.g. 203.0.113.10 "
        "(prefix /24 unless given; several comma-separated)",
    )
    p.add_argument(
        "--fip",
        action="append",
        default=[],
        metavar="FLOATING=FIXED",
        help="a floating IP and the fixed IP it maps to; repeatable",
    )
    p.add_argument(
        "--use-random-fully",
        type=boolean,
        default=True,
        metavar="true|false",
        help="Neutron's [AGENT] use_random_fully (default true, as in Neutron)",
    )
    p.add_argument(
        "--ipv6",
        type=boolean,
        default=True,
        metavar="true|false",
        help="the router's use_ipv6 (default true, as the L3 agent on a host with IPv6): "
        "also write the ip6tables rules",
    )
    p.add_argument(
        "--update",
        action="store_true",
        help="the router exists already: change its floating IPs to the --fip list the way the "
        "L3 agent processes a router update",
    )
    p.add_argument(
        "--emit-templates",
        metavar="DIR",
        help="write the fixture templates into DIR (uses a scratch namespace; no other option)",
    )
    a = p.parse_args(argv)
    if a.emit_templates:
        return a
    for name in ("netns", "qg_port_id", "gateway_ip"):
        if not getattr(a, name):
            p.error(f"--{name.replace('_', '-')} is required")
    if not a.qr_port_id:
        p.error("at least one --qr-port-id is required")
    if len(a.qr_subnet) != len(a.qr_port_id):
        p.error("give one --qr-subnet per --qr-port-id, in the same order")
    for f in a.fip:
        if f.count("=") != 1:
            p.error(f"--fip {f!r}: expected FLOATING=FIXED")
    return a


def configure(use_random_fully):
    """The L3 agent's configuration options, with their defaults (as neutron-l3-agent does at
    start), and what this one-shot process needs instead of the agent's service setup."""
    l3_agent.register_opts(cfg.CONF)
    agent_config.register_root_helper(cfg.CONF)
    cfg.CONF([], project="neutron")
    cfg.CONF.set_override("use_random_fully", use_random_fully, "AGENT")
    # Privileged calls (iptables-save/-restore) run in this process (already root) instead of
    # a privsep daemon started through rootwrap.
    privileged.default.set_client_mode(False)


def fixed_ips(cidrs, subnet_prefix):
    """A port's `fixed_ips` as the server sends them (`ip_address`, `prefixlen`, `subnet_id`)."""
    out = []
    for i, cidr in enumerate(c.strip() for c in cidrs.split(",") if c.strip()):
        if "/" not in cidr:
            cidr += "/24" if ipaddress.ip_address(cidr).version == 4 else "/64"
        iface = ipaddress.ip_interface(cidr)
        out.append(
            {
                "ip_address": str(iface.ip),
                "prefixlen": iface.network.prefixlen,
                "subnet_id": f"{subnet_prefix}-subnet-{i}",
            }
        )
    return out


def router_dict(a):
    """The router as the Neutron server describes it to the L3 agent (`sync_routers`): HA,
    SNAT on, no address scopes (a default deployment)."""
    no_scopes = {"4": None, "6": None}
    internal = [
        {
            "id": port_id,
            "admin_state_up": True,
            "network_id": f"net-{i}",
            "mac_address": "fa:16:3e:00:10:%02x" % (i + 1),
            "fixed_ips": fixed_ips(subnets, f"qr{i}"),
            "address_scopes": dict(no_scopes),
            "mtu": 1500,
        }
        for i, (port_id, subnets) in enumerate(zip(a.qr_port_id, a.qr_subnet))
    ]
    gw_port = {
        "id": a.qg_port_id,
        "network_id": "ext-net",
        "mac_address": "fa:16:3e:00:20:01",
        "fixed_ips": fixed_ips(a.gateway_ip, "ext"),
        "address_scopes": dict(no_scopes),
        "mtu": 1500,
    }
    return {
        "id": a.router_id,
        "ha": True,
        "distributed": False,
        "enable_snat": True,
        "admin_state_up": True,
        "routes": [],
        "gw_port": gw_port,
        "_interfaces": internal,
        "_floatingips": floating_ips(a.fip),
    }


def floating_ips(pairs):
    fips = []
    for i, pair in enumerate(pairs):
        floating, fixed = pair.split("=")
        fips.append(
            {
                "id": f"fip-{i}",
                "floating_ip_address": floating.strip(),
                "fixed_ip_address": fixed.strip(),
                "fixed_ip_address_scope": None,
                "status": "ACTIVE",
            }
        )
    return fips


def build_router(a):
    """The HaRouter the L3 agent would create (`L3NATAgent._create_router`), writing into
    `a.netns` instead of its own `qrouter-<id>` namespace."""
    agent = types.SimpleNamespace(conf=cfg.CONF)
    ri = ha_router.HaRouter(
        agent=agent,
        router_id=a.router_id,
        router=router_dict(a),
        agent_conf=cfg.CONF,
        interface_driver=interface.NullDriver(cfg.CONF),
        use_ipv6=a.ipv6,
    )
    ri.iptables_manager.namespace = a.netns
    # The metadata driver as the agent makes it (its port and mark from the configuration).
    proxy = metadata_driver.MetadataDriver(agent)
    return ri, proxy


def process(ri):
    """The iptables part of `RouterInfo.process()` (create and update alike)."""
    gw_port = ri.get_ex_gw_port()
    qg = ri.get_external_device_interface_name(gw_port)
    # process_external(): SNAT of the gateway, then the floating IPs, applied together.
    with ri.iptables_manager.defer_apply():
        ri._handle_router_snat_rules(gw_port, qg)
        ri.process_snat_dnat_for_fip()
    ri.process_address_scope()


def create(ri, proxy):
    """`_process_added_router`: process(), then the metadata driver's AFTER_CREATE callback."""
    process(ri)
    metadata_driver.apply_metadata_nat_rules(ri, proxy)


@contextlib.contextmanager
def rebuilt_agent_memory(ri):
    """Runs the body with the IptablesManager's writes switched off: what the body adds stays
    in memory only, as in the agent between two updates."""
    ri.iptables_manager._apply = lambda: []
    try:
        yield
    finally:
        del ri.iptables_manager._apply


def update(ri, proxy, new_fips):
    """`_process_updated_router` for a floating IP change, on the agent's in-memory state."""
    with rebuilt_agent_memory(ri):
        create(ri, proxy)
    ri.router["_floatingips"] = new_fips
    process(ri)


def run(a):
    configure(a.use_random_fully)
    # Neutron treats a namespace that vanished during an apply as a deleted router (logged, not
    # an error): a missing one must fail here.
    if not ip_lib.network_namespace_exists(a.netns):
        raise RuntimeError(f"network namespace {a.netns!r} does not exist")
    with tempfile.TemporaryDirectory(prefix="neutron-l3-rules-") as locks:
        # Neutron serialises per router with oslo.concurrency file locks.
        cfg.CONF.set_override("lock_path", locks, "oslo_concurrency")
        ri, proxy = build_router(a)
        if a.update:
            update(ri, proxy, floating_ips(a.fip))
        else:
            create(ri, proxy)


# --- fixture templates -------------------------------------------------------------------

# Recognisable values for the template router, each replaced by its placeholder afterwards.
TEMPLATE_QR_PORT = "00000000-aaaa"  # -> qr-00000000-aa
TEMPLATE_QG_PORT = "ffffffff-bbbb"  # -> qg-ffffffff-bb
TEMPLATE_VALUES = [
    # (value in the rules, placeholder)
    ("qr-00000000-aa", "{QR}"),
    ("qg-ffffffff-bb", "{QG}"),
    ("192.0.2.254", "{GW_IP}"),
    ("198.51.100.77", "{FLOATING}"),
    ("10.99.0.77", "{FIXED}"),
    (" --random-fully", "{RANDOM_FULLY}"),
]


def normalise(save_output):
    """iptables-save text without comment lines and with zeroed chain counters."""
    lines = []
    for line in save_output.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith(":") and line.endswith("]"):
            line = line[: line.rindex("[")] + "[0:0]"
        lines.append(line)
    return lines


def emit_templates(out_dir):
    ns = f"neutron-tmpl-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        a = parse_args(
            [
                "--netns", ns,
                "--qr-port-id", TEMPLATE_QR_PORT,
                "--qr-subnet", "10.99.0.1/24,fd00:99::1/64",
                "--qg-port-id", TEMPLATE_QG_PORT,
                "--gateway-ip", "192.0.2.254/24",
                "--fip", "198.51.100.77=10.99.0.77",
                "--use-random-fully", "true",
            ]
        )  # fmt: skip
        run(a)
        os.makedirs(out_dir, exist_ok=True)
        for cmd, name in (("iptables-save", "ipv4.rules"), ("ip6tables-save", "ipv6.rules")):
            saved = subprocess.run(
                ["ip", "netns", "exec", ns, cmd], check=True, capture_output=True, text=True
            ).stdout
            text = "\n".join(normalise(saved)) + "\n"
            if name == "ipv4.rules" and " --random-fully" not in text:
                raise RuntimeError(
                    "the template router has no --random-fully SNAT (iptables older than "
                    "1.6.2?): the {RANDOM_FULLY} placeholder cannot be made"
                )
            for value, placeholder in TEMPLATE_VALUES:
                text = text.replace(value, placeholder)
            with open(os.path.join(out_dir, name), "w") as f:
                f.write(text)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main(argv):
    a = parse_args(argv)
    try:
        if a.emit_templates:
            emit_templates(a.emit_templates)
        else:
            run(a)
    except Exception as e:  # Neutron's own error, and what caused it (iptables' stderr)
        chain = [e]
        while chain[-1].__cause__ or chain[-1].__context__:
            chain.append(chain[-1].__cause__ or chain[-1].__context__)
        for err in chain:
            text = str(err)
            # ProcessExecutionError repeats the whole iptables-restore input: keep its stderr.
            if "; Stderr: " in text:
                text = text.split("; Stderr: ", 1)[1].strip()
            print(f"l3_rules.py: {type(err).__name__}: {text}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
