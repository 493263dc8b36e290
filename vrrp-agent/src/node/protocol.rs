//! The node agent's control protocol: a client sends one [`Request`] per line (JSON) and reads
//! one [`Reply`] per line. The connection is the router's lifetime: when it closes without a
//! `stop`, the client is gone and the node agent releases the router. Pure types plus line
//! framing over any `BufRead`/`Write`.

use std::{
    io::{self, BufRead, Write},
    path::PathBuf,
};

use serde::{Deserialize, Serialize};

/// What a `keepalived` process asks of the node agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Run this router: the configuration's text (read and checked by the client), its path
    /// (for messages, state files and the status socket), the network namespace the client
    /// runs in (`ip netns` name; `None`: the node agent's own), the client's pid, and the
    /// settings file the client read.
    Register {
        config_path: PathBuf,
        config_text: String,
        netns: Option<String>,
        pid: u32,
        settings_path: PathBuf,
    },
    /// SIGHUP: the configuration's new text.
    Reload { config_text: String },
    /// SIGTERM: release the router (priority 0, addresses removed) and forget it.
    Stop,
}

/// The node agent's answer to one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The router is set up; its status is served on `status_socket`.
    Registered {
        status_socket: PathBuf,
        node_pid: u32,
    },
    Reloaded,
    Stopped,
    Error {
        message: String,
    },
}

/// Writes one message as a line.
pub fn write_line<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(msg).map_err(io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)?;
    w.flush()
}

/// Reads one message; `Ok(None)` at the end of the stream.
pub fn read_line<T: for<'de> Deserialize<'de>>(r: &mut impl BufRead) -> io::Result<Option<T>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    parse(&line).map(Some)
}

/// Parses one line.
pub fn parse<T: for<'de> Deserialize<'de>>(line: &str) -> io::Result<T> {
    serde_json::from_str(line.trim_end()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad message from the other side: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_json_line_each_and_read_back() {
        let reg = Request::Register {
            config_path: "/var/lib/neutron/ha_confs/r1/keepalived.conf".into(),
            config_text: "vrrp_instance VR_1 {\n}\n".into(),
            netns: Some("qrouter-r1".into()),
            pid: 42,
            settings_path: "/etc/vrrp-agent/keepalived.toml".into(),
        };
        let mut buf = Vec::new();
        write_line(&mut buf, &reg).unwrap();
        write_line(&mut buf, &Request::Stop).unwrap();
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 2);
        let mut r = io::BufReader::new(&buf[..]);
        assert_eq!(read_line::<Request>(&mut r).unwrap(), Some(reg));
        assert_eq!(read_line::<Request>(&mut r).unwrap(), Some(Request::Stop));
        assert_eq!(read_line::<Request>(&mut r).unwrap(), None);
        assert!(parse::<Reply>("{\"reply\":\"nonsense\"}").is_err());
    }
}
