//! Driving one state machine by hand with virtual time, and reading its outputs.

// An arbitrary origin for virtual time (see vrrp-agent/clippy.toml).
#![allow(clippy::disallowed_methods)]
#![allow(dead_code)]

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use vrrp_agent::{
    fsm::{Input, Instance, InstanceConfig, Notice, Output, State},
    packet::{Advert, Auth, ChecksumForm},
};

pub const PRIMARY: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
pub const LOWER_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
pub const HIGHER_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
pub const VIP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 100));

/// VRRPv3, VRID 7, priority 100, 1 s, preempt, one VIP.
pub fn config() -> InstanceConfig {
    InstanceConfig::new("VR_7", 7, VIP)
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub struct Harness {
    pub inst: Instance,
    pub start: Instant,
    pub now: Instant,
    /// What the instance said about received adverts (log lines), kept apart from the
    /// effects that the tests compare.
    pub notices: Vec<Notice>,
}

impl Harness {
    pub fn new(config: InstanceConfig) -> Self {
        let start = Instant::now();
        Self {
            inst: Instance::new(config, PRIMARY).expect("valid config"),
            start,
            now: start,
            notices: Vec::new(),
        }
    }

    /// Creates and starts the instance; returns the startup outputs.
    pub fn started(config: InstanceConfig) -> (Self, Vec<Output>) {
        let mut h = Self::new(config);
        let out = h.input(Input::Startup);
        (h, out)
    }

    pub fn state(&self) -> State {
        self.inst.state()
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The effects since the last drain; notices go to [`Harness::notices`].
    pub fn drain(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(o) = self.inst.poll_output() {
            match o {
                Output::Notice(n) => self.notices.push(n),
                o => out.push(o),
            }
        }
        out
    }

    /// The notices so far, taken.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub fn input(&mut self, input: Input) -> Vec<Output> {
        self.inst.handle_input(input, self.now);
        self.drain()
    }

    /// An advert like the instance's own, from `src` with `priority`.
    pub fn advert_from(&mut self, src: IpAddr, priority: u8) -> Vec<Output> {
        let c = self.inst.config().clone();
        let advert = Advert {
            version: c.version,
            vrid: c.vrid,
            priority,
            interval: c.advert_interval,
            addresses: c.virtual_addresses.iter().map(|a| a.addr).collect(),
            auth: c.auth,
        };
        self.advert(src, advert)
    }

    /// `advert` from `src`, its checksum in the pseudo-header form.
    pub fn advert(&mut self, src: IpAddr, advert: Advert) -> Vec<Output> {
        self.advert_in(src, advert, ChecksumForm::WithPseudoHeader)
    }

    /// `advert` from `src`, its checksum in `checksum`.
    pub fn advert_in(
        &mut self,
        src: IpAddr,
        advert: Advert,
        checksum: ChecksumForm,
    ) -> Vec<Output> {
        self.input(Input::Advert {
            src,
            advert,
            checksum,
        })
    }

    /// An advert like the instance's own from `src` with `priority`, its checksum in `form`.
    pub fn advert_from_in(&mut self, src: IpAddr, priority: u8, form: ChecksumForm) -> Vec<Output> {
        let c = self.inst.config().clone();
        let advert = Advert {
            version: c.version,
            vrid: c.vrid,
            priority,
            interval: c.advert_interval,
            addresses: c.virtual_addresses.iter().map(|a| a.addr).collect(),
            auth: c.auth,
        };
        self.advert_in(src, advert, form)
    }

    /// Advances virtual time by `d`, firing every timer on the way (at its deadline).
    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        let end = self.now + d;
        let mut out = Vec::new();
        while let Some(t) = self.inst.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.inst.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = end;
        out
    }

    /// Time until the next deadline.
    pub fn next_deadline_in(&self) -> Option<Duration> {
        self.inst.poll_timeout().map(|t| t - self.now)
    }
}

/// Names of the outputs, in order (for order assertions).
pub fn kinds(outputs: &[Output]) -> Vec<&'static str> {
    outputs
        .iter()
        .map(|o| match o {
            Output::Transition { .. } => "transition",
            Output::SetOwnership { owned: true, .. } => "own",
            Output::SetOwnership { owned: false, .. } => "disown",
            Output::RenewLease(_) => "renew_lease",
            Output::SendAdvert { advert, .. } if advert.priority == 0 => "advert0",
            Output::SendAdvert { .. } => "advert",
            Output::AddAddresses(_) => "add_addresses",
            Output::RemoveAddresses(_) => "remove_addresses",
            Output::AddRoutes(_) => "add_routes",
            Output::RemoveRoutes(_) => "remove_routes",
            Output::SendGratuitous { .. } => "garp",
            Output::WriteState(_) => "write_state",
            Output::RunNotify { .. } => "notify",
            Output::SyncWantsMaster => "sync_wants_master",
            Output::BalanceWanted => "balance_wanted",
            Output::Notice(_) => "notice",
        })
        .collect()
}

/// The adverts among the outputs.
pub fn adverts(outputs: &[Output]) -> Vec<Advert> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::SendAdvert { advert, .. } => Some(advert.clone()),
            _ => None,
        })
        .collect()
}

/// The transitions among the outputs: (from, to).
pub fn transitions(outputs: &[Output]) -> Vec<(State, State)> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Transition { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect()
}

pub fn v2_config(password: &str) -> InstanceConfig {
    let mut c = config();
    c.version = vrrp_agent::packet::Version::V2;
    c.advert_interval = vrrp_agent::packet::Centisecs::from_secs(1);
    c.auth = Auth::simple(password);
    c
}

pub mod sim;
