//! Who notify and check scripts run as, end to end (keepalived's `script_user`, a
//! `vrrp_script`'s `user`, `enable_script_security`): a real agent in a router namespace this
//! test creates runs a notify script and a check script that write down their uid, gid and
//! groups; as the unprivileged user `nobody`, also through `ip netns exec` (the node agent
//! running a router for a `keepalived` process Neutron started in its namespace); and a root
//! script in a folder everyone may write is refused under `enable_script_security` (and runs,
//! with a warning, without it). Needs root.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use vrrp_tests::{
    agent,
    agent::Agent,
    netns::NetNs,
    require_root,
    tempdir::TempDir,
    topo::{Segment, wait_for},
};

const WAIT: Duration = Duration::from_secs(15);
const NOBODY: u32 = 65534;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A script at `path` (mode 0755) that appends `uid gid groups args...` to `out`, or with
/// `sys` also the interfaces in its /sys.
fn id_script(path: &Path, out: &Path, sys: bool) {
    let extra = if sys {
        " $(ls /sys/class/net | tr '\\n' ' ')"
    } else {
        ""
    };
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\necho \"$(id -u) $(id -g) $(id -G) $*{extra}\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    chmod(path, 0o755);
}

/// The lines a script wrote to `out` (waits for the first).
fn lines(out: &Path, what: &str) -> Vec<String> {
    wait_for(WAIT, what, || {
        let text = std::fs::read_to_string(out).ok()?;
        (!text.is_empty()).then(|| text.lines().map(str::to_string).collect())
    })
}

/// A folder (0755, owned by root as the test runs) with an output folder everyone may write.
fn folders(label: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(label);
    chmod(&dir.0, 0o755);
    let out = dir.path("out");
    std::fs::create_dir(&out).unwrap();
    chmod(&out, 0o777);
    (dir, out)
}

fn gid_of(group: &str) -> u32 {
    nix::unistd::Group::from_name(group)
        .unwrap()
        .unwrap_or_else(|| panic!("group `{group}` is needed by this test"))
        .gid
        .as_raw()
}

#[test]
fn notify_and_check_scripts_run_as_the_script_user() {
    require_root();
    let (dir, out) = folders("scripts");
    let ha = Segment::new();
    let router = NetNs::new();
    ha.attach_ha_node(&router, "ha", 1);
    let notify = dir.path("notify.sh");
    let check = dir.path("check.sh");
    id_script(&notify, &out.join("notify"), false);
    id_script(&check, &out.join("check"), false);
    // The check script has a user and group of its own; notify scripts run as script_user.
    let daemon = gid_of("daemon");
    let agent = Agent::run(
        "scripts",
        &dir,
        &format!(
            r#"
[global]
script_user = "nobody"

[[script]]
name = "chk"
command = "{check} checking"
interval = 0.2
user = "nobody"
group = "daemon"

[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = 100
advert_interval = 0.1
virtual_addresses = ["169.254.0.1/24"]
notify_master = "{notify} now-master"
track_scripts = ["chk"]
"#,
            check = check.display(),
            notify = notify.display(),
            ns = router.name(),
        ),
    );
    let master = agent.wait_state("VR_1", "MASTER", WAIT);
    assert!(
        master.tracked.iter().any(|t| t.name == "chk" && t.up),
        "{:?}",
        master.tracked
    );
    let notified = lines(&out.join("notify"), "the notify script's line");
    assert_eq!(
        notified[0],
        format!("{NOBODY} {NOBODY} {NOBODY} now-master"),
        "uid, gid, groups (no supplementary groups of root's)\nagent logs:\n{}",
        agent.logs()
    );
    let checked = lines(&out.join("check"), "the check script's line");
    assert_eq!(
        checked[0],
        format!("{NOBODY} {daemon} {daemon} checking"),
        "agent logs:\n{}",
        agent.logs()
    );
}

/// What the node agent leaves: its process and files, removed at the end (also when the test
/// fails half-way).
struct NodeAgent {
    keepalived_pid_file: PathBuf,
    socket: PathBuf,
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        let read =
            |p: &Path| -> Option<i32> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
        for pid in [
            read(&self.keepalived_pid_file),
            read(&self.socket.with_extension("pid")),
        ]
        .into_iter()
        .flatten()
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(100));
        for ext in ["ctl", "lock", "pid"] {
            let _ = std::fs::remove_file(self.socket.with_extension(ext));
        }
        if let Some(stem) = self.socket.file_stem() {
            let _ = std::fs::remove_dir_all(Path::new("/sys/fs/bpf/vrrp-xdp").join(stem));
        }
    }
}

#[test]
fn through_ip_netns_exec_scripts_still_run_as_the_script_user() {
    require_root();
    let (dir, out) = folders("netns-scripts");
    let ha = Segment::new();
    let router = NetNs::new();
    ha.attach_ha_node(&router, "ha-1", 1);
    let notify = dir.path("notify.sh");
    let check = dir.path("check.sh");
    id_script(&notify, &out.join("notify"), true);
    id_script(&check, &out.join("check"), true);
    // As Neutron runs it: keepalived.conf in the router's folder, `keepalived` started with
    // `ip netns exec`; the node agent runs the router and its scripts through
    // `ip netns exec <ns>`.
    let router_dir = dir.path("router");
    std::fs::create_dir(&router_dir).unwrap();
    let conf = router_dir.join("keepalived.conf");
    std::fs::write(
        &conf,
        format!(
            "global_defs {{\n    script_user nobody\n}}\n\
             vrrp_script chk {{\n    script \"{check} checking\"\n    interval 1\n}}\n\
             vrrp_instance VR_1 {{\n    state BACKUP\n    interface ha-1\n    \
             virtual_router_id 1\n    priority 50\n    advert_int 1\n    \
             virtual_ipaddress {{\n        169.254.0.1/24 dev ha-1\n    }}\n    \
             track_script {{\n        chk\n    }}\n    notify_master \"{notify}\"\n}}\n",
            check = check.display(),
            notify = notify.display(),
        ),
    )
    .unwrap();
    let socket = PathBuf::from(format!("/run/vrrp-agent/{}.ctl", router.name()));
    let settings = router_dir.join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "process_model = \"node\"\nnode_socket = \"{}\"\nnode_log = \"{}\"\npin_dir = \"{}\"\n",
            socket.display(),
            router_dir.join("node.log").display(),
            dir.bpf_dir().display()
        ),
    )
    .unwrap();
    let bin = dir.path("keepalived");
    std::os::unix::fs::symlink(agent::binary(), &bin).unwrap();
    let pid_file = dir.path("r.pid.keepalived");
    let _node = NodeAgent {
        keepalived_pid_file: pid_file.clone(),
        socket: socket.clone(),
    };
    let started = Command::new("ip")
        .args(["netns", "exec", router.name()])
        .arg(&bin)
        .args(["-P", "-f"])
        .arg(&conf)
        .arg("-p")
        .arg(&pid_file)
        .arg("-r")
        .arg(dir.path("r.pid.keepalived-vrrp"))
        .env("VRRP_AGENT_SETTINGS", &settings)
        .output()
        .expect("run keepalived");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let logs = || std::fs::read_to_string(router_dir.join("node.log")).unwrap_or_default();

    // Both scripts ran inside the router's namespace (its /sys lists ha-1) as nobody.
    for (name, what) in [("notify", "notify_master"), ("check", "vrrp_script")] {
        let line = wait_for(WAIT, &format!("the {what} line"), || {
            lines_now(&out.join(name)).into_iter().next()
        });
        let mut words = line.split_whitespace();
        assert_eq!(
            (words.next(), words.next(), words.next()),
            (
                Some(NOBODY.to_string().as_str()),
                Some(NOBODY.to_string().as_str()),
                Some(NOBODY.to_string().as_str())
            ),
            "{what}: {line}\nnode agent log:\n{}",
            logs()
        );
        assert!(
            line.split_whitespace().any(|w| w == "ha-1"),
            "{what} ran in the router's namespace: {line}"
        );
    }
}

fn lines_now(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn enable_script_security_refuses_a_root_script_in_a_folder_everyone_may_write() {
    require_root();
    let (dir, out) = folders("security");
    let open = dir.path("open");
    std::fs::create_dir(&open).unwrap();
    chmod(&open, 0o777);
    let notify = open.join("notify.sh");
    let check = open.join("check.sh");
    id_script(&notify, &out.join("notify"), false);
    id_script(&check, &out.join("check"), false);
    let ha = Segment::new();
    let router = NetNs::new();
    ha.attach_ha_node(&router, "ha", 1);
    let config = |security: bool| {
        format!(
            r#"
[global]
script_user = "root"
script_security = {security}

[[script]]
name = "chk"
command = "{check}"
interval = 0.2

[[instance]]
name = "VR_1"
netns = "{ns}"
interface = "ha"
vrid = 1
priority = 100
advert_interval = 0.1
virtual_addresses = ["169.254.0.1/24"]
notify_master = "{notify}"
track_scripts = [{{ name = "chk", weight = -10 }}]
"#,
            check = check.display(),
            notify = notify.display(),
            ns = router.name(),
        )
    };

    // Refused: neither script runs, the instance does not track the check, and the log says
    // which script and which folder.
    let mut agent = Agent::run("secure", &dir, &config(true));
    let master = agent.wait_state("VR_1", "MASTER", WAIT);
    assert!(
        !master.tracked.iter().any(|t| t.name == "chk"),
        "{:?}",
        master.tracked
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        lines_now(&out.join("notify")).is_empty(),
        "the notify script ran"
    );
    assert!(
        lines_now(&out.join("check")).is_empty(),
        "the check script ran"
    );
    let logs = agent.logs();
    for script in [&notify, &check] {
        let refusal = logs
            .lines()
            .find(|l| l.contains(&script.display().to_string()) && l.contains("is not run"))
            .unwrap_or_else(|| panic!("no refusal for {}:\n{logs}", script.display()));
        assert!(
            refusal.contains("ERROR")
                && refusal.contains("enable_script_security")
                && refusal.contains(&format!("`{}` is writable by everyone", open.display())),
            "{refusal}"
        );
    }
    agent.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(agent.wait_exit(WAIT).success());

    // Without script security the same scripts run, as root, with a warning naming the folder.
    let agent = Agent::run("insecure", &dir, &config(false));
    agent.wait_state("VR_1", "MASTER", WAIT);
    for name in ["notify", "check"] {
        let line = &lines(&out.join(name), &format!("the {name} script's line"))[0];
        assert!(line.starts_with("0 0 "), "{name}: uid and gid 0: {line}");
    }
    let logs = agent.logs();
    assert!(
        logs.lines().any(|l| l.contains("WARN")
            && l.contains(&check.display().to_string())
            && l.contains(&format!("`{}` is writable by everyone", open.display()))),
        "{logs}"
    );
}
