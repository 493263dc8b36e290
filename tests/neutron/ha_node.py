"""One node of a Neutron HA router, run by OpenStack Neutron's own L3 agent code (PyPI
neutron==29.0.0, the venv `cargo xtask setup` makes; run as root): the part of an L3 agent that
looks after one HA router on one network node, driven line by line from a test.

What runs is Neutron's, unchanged:

* `neutron.agent.l3.ha_router.HaRouter`, built from a router dict shaped like the one the
  Neutron server sends (`_ha_interface`, `ha_vr_id`, the gateway port with its subnet, one
  internal port, floating IPs), with the L3 agent's configuration options and the null
  interface driver (the test bed made the `ha-`/`qr-`/`qg-` ports already; a real agent's
  driver would plug them). `initialize()` then `process()`, as `L3NATAgent._process_added_router`
  does, then the metadata driver's AFTER_CREATE iptables rules: the router namespace gets
  Neutron's sysctls and iptables rules, `KeepalivedManager` writes keepalived.conf and starts
  `keepalived -P -f ... -p ... -r ...` through `ip netns exec <ns> env PROCESS_TAG=...`,
  `ProcessMonitor` watches it (respawn), and `neutron-keepalived-state-change` (the sh script
  the wheel installs) watches the primary VIP on the `ha-` port, writes the state file and
  posts each change to the agent's unix socket. With `--conntrackd` (`ha_conntrackd_enabled`)
  `ConntrackdManager` runs conntrackd in the namespace too, and the state-change script syncs
  it on every transition.
* The agent's end of that socket: `L3AgentKeepalivedStateChangeServer` with Neutron's
  `KeepalivedStateChangeHandler`; the agent object behind it only records what it is told
  (router id, state), as `AgentMixin.enqueue_state_change` receives it.

The router namespace is the test bed's (`--namespace`), not `qrouter-<id>`: two simulated
nodes on one host need two namespaces for one router id.

Commands, one JSON object per line on stdin; one JSON reply per line on stdout:

* `{"cmd": "create"}`: initialize + process (+ metadata rules). Reply `{"ok": true}`.
* `{"cmd": "set_fips", "fips": [["203.0.113.20", "10.0.10.5"], ...]}`: the router update the
  server sends when floating IPs change: `process()` again, which rewrites keepalived.conf and
  reloads keepalived (SIGHUP, through Neutron's throttled `spawn`).
* `{"cmd": "disable"}`: `KeepalivedManager.disable()` (unregister, SIGTERM, wait).
* `{"cmd": "enable"}`: `HaRouter.enable_keepalived()` (spawn again, register).
* `{"cmd": "status"}`: `{"state_file": ..., "notifications": [[t, state], ...],
  "keepalived_pid": ..., "keepalived_active": ..., "vrrp_pid": ..., "monitor_pid": ...,
  "conntrackd_pid": ...}`.
* `{"cmd": "quit"}` (or end of input): stop watching, stop the state-change monitor,
  conntrackd and keepalived as `HaRouter.delete()` does (without deleting the namespace, which
  is the bed's), and exit.

Errors are replied as `{"ok": false, "error": "..."}`; the process goes on.
"""

import argparse
import json
import os
import sys
import threading
import time
import traceback
import types
import warnings

sys.argv[0] = "/usr/bin/neutron-l3-agent"
warnings.filterwarnings("ignore")

from oslo_config import cfg  # noqa: E402
from oslo_log import log as oslo_log  # noqa: E402
from oslo_privsep import priv_context  # noqa: E402

from neutron import privileged  # noqa: E402
from neutron.agent import l3_agent  # noqa: E402
from neutron.agent.l3 import ha  # noqa: E402
from neutron.agent.l3 import ha_router  # noqa: E402
from neutron.agent.linux import external_process  # noqa: E402
from neutron.agent.linux import interface  # noqa: E402
from neutron.agent.linux import utils as linux_utils  # noqa: E402
from neutron.agent.metadata import driver as metadata_driver  # noqa: E402
from neutron.conf.agent import common as agent_config  # noqa: E402

LOG = oslo_log.getLogger("ha_node")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="ha_node.py")
    p.add_argument("--state-path", required=True, help="the node's state_path")
    p.add_argument("--namespace", required=True, help="the router's namespace on this node")
    p.add_argument("--router-id", required=True)
    p.add_argument("--host", required=True, help="the node's name")
    p.add_argument("--ha-ip", required=True, help="this node's HA port address (/18)")
    p.add_argument("--ha-port-id", required=True)
    p.add_argument("--ha-mac", required=True)
    p.add_argument("--qr-port-id", required=True)
    p.add_argument("--qr-mac", required=True)
    p.add_argument("--qr-cidr", required=True, help="e.g. 10.0.10.1/24")
    p.add_argument("--qg-port-id", required=True)
    p.add_argument("--qg-mac", required=True)
    p.add_argument("--qg-cidr", required=True, help="e.g. 203.0.113.10/24")
    p.add_argument("--external-gateway", required=True, help="e.g. 203.0.113.1")
    p.add_argument("--vrid", type=int, default=1)
    p.add_argument(
        "--fip", action="append", default=[], metavar="FLOATING=FIXED", help="initial FIPs"
    )
    p.add_argument("--advert-int", type=int, default=2, help="ha_vrrp_advert_int")
    p.add_argument("--auth-password", help="ha_vrrp_auth_password (auth_type PASS)")
    p.add_argument(
        "--check-interval",
        type=int,
        default=60,
        help="[AGENT] check_child_processes_interval (ProcessMonitor)",
    )
    p.add_argument("--conntrackd", action="store_true", help="ha_conntrackd_enabled")
    return p.parse_args(argv)


class Recorder:
    """The agent behind Neutron's keepalived state-change server: records what it is told."""

    def __init__(self):
        self.lock = threading.Lock()
        self.received = []

    def enqueue_state_change(self, router_id, state):
        with self.lock:
            self.received.append((time.time(), router_id, state))
        LOG.info("state change received: router %s is %s", router_id, state)


class Node:
    def __init__(self, a):
        self.a = a
        self.recorder = Recorder()
        self.configure()
        self.start_state_change_server()
        self.process_monitor = external_process.ProcessMonitor(cfg.CONF, resource_type="router")
        self.plugin_rpc = types.SimpleNamespace(update_floatingip_statuses=lambda *a, **k: None)
        self.agent = types.SimpleNamespace(
            conf=cfg.CONF,
            host=a.host,
            context=None,
            plugin_rpc=self.plugin_rpc,
            process_monitor=self.process_monitor,
        )
        self.ri = None

    def configure(self):
        a = self.a
        l3_agent.register_opts(cfg.CONF)
        agent_config.register_root_helper(cfg.CONF)
        oslo_log.register_options(cfg.CONF)
        cfg.CONF([], project="neutron")
        os.makedirs(a.state_path, exist_ok=True)
        cfg.CONF.set_override("state_path", a.state_path)
        cfg.CONF.set_override("host", a.host)
        cfg.CONF.set_override("ha_vrrp_advert_int", a.advert_int)
        if a.auth_password:
            cfg.CONF.set_override("ha_vrrp_auth_type", "PASS")
            cfg.CONF.set_override("ha_vrrp_auth_password", a.auth_password)
        cfg.CONF.set_override("ha_conntrackd_enabled", a.conntrackd)
        cfg.CONF.set_override("check_child_processes_interval", a.check_interval, "AGENT")
        cfg.CONF.set_override("lock_path", os.path.join(a.state_path, "lock"), "oslo_concurrency")
        cfg.CONF.set_override("log_file", os.path.join(a.state_path, "l3-agent.log"))
        oslo_log.setup(cfg.CONF, "neutron")
        # This process is root: commands run directly, privileged calls in this process (no
        # sudo/rootwrap and no privsep daemon, as in tests/neutron/l3_rules.py).
        cfg.CONF.set_override("root_helper", "", "AGENT")
        for name in dir(privileged):
            context = getattr(privileged, name)
            if isinstance(context, priv_context.PrivContext):
                context.set_client_mode(False)
        # The L3 agent's own start-up: its HA conf folder.
        os.makedirs(cfg.CONF.ha_confs_path, exist_ok=True)

    def start_state_change_server(self):
        """What `AgentMixin.init_host` starts: Neutron's server on `<state_path>/
        keepalived-state-change`, here with the recorder as the agent."""
        server = ha.L3AgentKeepalivedStateChangeServer(self.recorder, cfg.CONF)
        server.run()
        threading.Thread(target=server.wait, daemon=True).start()

    def router_dict(self):
        a = self.a
        ha_net = "169.254.192.0/18"
        return {
            "id": a.router_id,
            "ha": True,
            "ha_vr_id": a.vrid,
            "distributed": False,
            "enable_snat": True,
            "admin_state_up": True,
            "routes": [],
            "_ha_interface": {
                "id": a.ha_port_id,
                "network_id": "ha-net",
                "mac_address": a.ha_mac,
                "status": "ACTIVE",
                "mtu": 1500,
                "fixed_ips": [
                    {"ip_address": a.ha_ip, "prefixlen": 18, "subnet_id": "ha-subnet"}
                ],
                "subnets": [{"id": "ha-subnet", "cidr": ha_net, "gateway_ip": None}],
            },
            "gw_port": port(
                a.qg_port_id, "ext-net", a.qg_mac, a.qg_cidr, "ext-subnet", a.external_gateway
            ),
            "_interfaces": [
                port(
                    a.qr_port_id,
                    "net-0",
                    a.qr_mac,
                    a.qr_cidr,
                    "qr-subnet",
                    a.qr_cidr.split("/")[0],
                )
            ],
            "_floatingips": floating_ips([f.split("=") for f in a.fip]),
        }

    def create(self):
        """`L3NATAgent._process_added_router` for an HA router."""
        ri = ha_router.HaRouter(
            agent=self.agent,
            router_id=self.a.router_id,
            router=self.router_dict(),
            agent_conf=cfg.CONF,
            interface_driver=interface.NullDriver(cfg.CONF),
            use_ipv6=True,
        )
        # The bed's namespace instead of qrouter-<id>.
        ri.router_namespace.name = self.a.namespace
        ri.ns_name = self.a.namespace
        ri.iptables_manager.namespace = self.a.namespace
        ri.initialize(self.process_monitor)
        ri.process()
        metadata_driver.apply_metadata_nat_rules(ri, metadata_driver.MetadataDriver(self.agent))
        self.ri = ri

    def set_fips(self, fips):
        self.ri.router["_floatingips"] = floating_ips(fips)
        self.ri.process()

    def status(self):
        ri = self.ri
        out = {"notifications": [], "state_file": None}
        with self.recorder.lock:
            out["notifications"] = [[t, s] for t, r, s in self.recorder.received]
        if ri is None:
            return out
        km = ri.keepalived_manager
        try:
            with open(km.get_full_config_file_path("state")) as f:
                out["state_file"] = f.read()
        except OSError:
            pass
        pm = km.get_process()
        out["keepalived_pid"] = pm.pid
        out["keepalived_active"] = pm.active
        vrrp = km._get_vrrp_process(km.get_vrrp_pid_file_name(pm.get_pid_file_name()))
        out["vrrp_pid"] = vrrp.pid
        out["keepalived_conf"] = km.get_full_config_file_path("keepalived.conf")
        monitor = ri._get_state_change_monitor_process_manager()
        out["monitor_pid"] = monitor.pid
        out["monitor_active"] = monitor.active
        if ri.conntrackd_manager and cfg.CONF.ha_conntrackd_enabled:
            cm = ri.conntrackd_manager.get_process()
            out["conntrackd_pid"] = cm.pid
            out["conntrackd_active"] = cm.active
        return out

    def teardown(self):
        """`HaRouter.delete()` up to (not including) the namespace, which is the bed's."""
        self.process_monitor.stop()
        ri = self.ri
        if ri is None:
            return
        ri.destroy_state_change_monitor(self.process_monitor)
        ri.disable_keepalived(remove_config=not cfg.CONF.ha_conntrackd_enabled)
        if cfg.CONF.ha_conntrackd_enabled:
            ri.disable_conntrackd(remove_config=True)
        self.ri = None


def port(port_id, network_id, mac, cidr, subnet_id, gateway_ip):
    address, prefix = cidr.split("/")
    net = str(__import__("ipaddress").ip_interface(cidr).network)
    return {
        "id": port_id,
        "admin_state_up": True,
        "network_id": network_id,
        "mac_address": mac,
        "mtu": 1500,
        "fixed_ips": [{"ip_address": address, "prefixlen": int(prefix), "subnet_id": subnet_id}],
        "subnets": [{"id": subnet_id, "cidr": net, "gateway_ip": gateway_ip}],
        "address_scopes": {"4": None, "6": None},
    }


def floating_ips(pairs):
    return [
        {
            "id": f"fip-{floating}",
            "floating_ip_address": floating,
            "fixed_ip_address": fixed,
            "fixed_ip_address_scope": None,
            "status": "ACTIVE",
        }
        for floating, fixed in pairs
    ]


def main(argv):
    a = parse_args(argv)
    # Replies go to the real stdout only.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    node = Node(a)
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            req = json.loads(line)
            cmd = req.get("cmd")
            try:
                if cmd == "create":
                    node.create()
                    reply = {"ok": True}
                elif cmd == "set_fips":
                    node.set_fips(req["fips"])
                    reply = {"ok": True}
                elif cmd == "disable":
                    node.ri.keepalived_manager.disable()
                    reply = {"ok": True}
                elif cmd == "enable":
                    node.ri.enable_keepalived()
                    reply = {"ok": True}
                elif cmd == "status":
                    reply = {"ok": True, **node.status()}
                elif cmd == "quit":
                    node.teardown()
                    replies.write(json.dumps({"ok": True}) + "\n")
                    return 0
                else:
                    reply = {"ok": False, "error": f"unknown command {cmd!r}"}
            except Exception as e:  # reported to the test, which decides
                LOG.exception("command %s failed", cmd)
                reply = {"ok": False, "error": f"{type(e).__name__}: {e}",
                         "traceback": traceback.format_exc()}
            replies.write(json.dumps(reply) + "\n")
    finally:
        try:
            node.teardown()
        except Exception:
            LOG.exception("teardown failed")
    return 0


if __name__ == "__main__":
    rc = main(sys.argv[1:])
    # Neutron's threads (process monitor, state-change server) are not daemons everywhere.
    os._exit(rc)
