//! One virtual router: RFC 9568 §6.4 (Initialize, Backup, Active, which this code calls
//! MASTER as RFC 5798, RFC 3768 and keepalived do) plus keepalived's FAULT, tracking, preempt
//! delay and sync-group commands, the startup listening period and the checksum form of
//! VRRPv3 over IPv4; with `balance`, the instance's share of balancing (`balance`).

use std::{
    collections::VecDeque,
    net::IpAddr,
    time::{Duration, Instant},
};

use super::{
    ChecksumPolicy, ConfigError, Counters, GroupCommand, InitialState, Input, InstanceConfig,
    Notice, Output, Reason, State, VirtualAddress, VirtualRoute,
    balance::{self, BalanceState, Step},
    garp::GarpSchedule,
    notice::NoticeLimiter,
    receive,
    replay::AhSequence,
    timing::{master_down_interval, skew_time},
    tracking::Tracking,
};
use crate::packet::{Advert, Auth, Centisecs, ChecksumForm, DecodeError, Version};

/// A snapshot for status reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceStatus {
    pub name: String,
    pub vrid: u8,
    pub state: State,
    pub base_priority: u8,
    pub effective_priority: u8,
    /// The priority it advertises and elects with: the effective priority, or with
    /// `balance` the one its node's load gives it.
    pub election_priority: u8,
    /// Who is master as far as we know (ourselves when master).
    pub master: Option<IpAddr>,
    pub primary: IpAddr,
    pub advert_interval: Centisecs,
    /// The interval the current master advertises (v3 backups adopt it).
    pub master_adver_interval: Centisecs,
    pub last_transition: Option<(Instant, Reason)>,
    /// The checksum form our VRRPv3-over-IPv4 adverts have now (`None` for other kinds).
    pub checksum_form: Option<ChecksumForm>,
    pub counters: Counters,
}

/// The state machine of one virtual router.
#[derive(Debug)]
pub struct Instance {
    config: InstanceConfig,
    primary: IpAddr,
    state: State,
    running: bool,
    tracking: Tracking,
    group_fault: bool,
    master_adver_interval: Centisecs,
    adver_timer: Option<Instant>,
    master_down_timer: Option<Instant>,
    garp: GarpSchedule,
    preempt_deadline: Option<Instant>,
    master: Option<IpAddr>,
    /// The priority the master we follow advertises (see `master_down_interval`).
    master_priority: Option<u8>,
    resigned_by: Option<IpAddr>,
    /// Sync-group member whose down timer expired: why it wants MASTER.
    wants_master: Option<Reason>,
    /// When a master last answered a lower-priority advert at once (rate limit).
    last_reassert: Option<Instant>,
    last_transition: Option<(Instant, Reason)>,
    /// The highest priority heard in any other router's valid advert (for the fencing lease).
    highest_peer_priority: u8,
    /// AH sequence numbers and keepalived's anti-replay rule (`auth_type AH` only).
    ah_sequence: AhSequence,
    /// The checksum form of the adverts we send (VRRPv3 over IPv4; see `ChecksumPolicy`).
    checksum_form: ChecksumForm,
    /// With `balance`: the node's load, the wish to take the router and the node's grant.
    balance: BalanceState,
    /// The priority of our last scheduled advert as master (or the first): what a balanced
    /// master compares with and answers with until the next one (see `balance`).
    advertised: Option<u8>,
    /// Rate limit of what we say about received adverts.
    notices: NoticeLimiter,
    counters: Counters,
    outputs: VecDeque<Output>,
}

impl Instance {
    /// A stopped instance (send [`Input::Startup`] to start it). `primary` is the primary
    /// address of its interface: the source of its adverts and its side of the tie-break.
    pub fn new(config: InstanceConfig, primary: IpAddr) -> Result<Self, ConfigError> {
        config.validate()?;
        let checksum_form = match config.v3_checksum {
            ChecksumPolicy::Auto => ChecksumForm::WithPseudoHeader,
            ChecksumPolicy::Fixed(form) => form,
        };
        Ok(Self {
            tracking: Tracking::new(&config.tracked),
            master_adver_interval: config.advert_interval,
            config,
            primary,
            state: State::Initialize,
            running: false,
            group_fault: false,
            adver_timer: None,
            master_down_timer: None,
            garp: GarpSchedule::default(),
            preempt_deadline: None,
            master: None,
            master_priority: None,
            resigned_by: None,
            wants_master: None,
            last_reassert: None,
            last_transition: None,
            highest_peer_priority: 0,
            ah_sequence: AhSequence::default(),
            checksum_form,
            balance: BalanceState::default(),
            advertised: None,
            notices: NoticeLimiter::default(),
            counters: Counters::default(),
            outputs: VecDeque::new(),
        })
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The AH sequence number last sent or accepted (0 unless `auth_type AH`).
    pub fn ah_sequence(&self) -> u32 {
        self.ah_sequence.current()
    }

    /// Whether this instance is master or would be (for sync-group promotion).
    pub fn wants_master(&self) -> bool {
        self.state == State::Master || (self.state == State::Backup && self.wants_master.is_some())
    }

    /// Priority after tracked-object weights.
    pub fn effective_priority(&self) -> u8 {
        self.tracking
            .effective_priority(self.config.priority, &self.config.tracked)
    }

    /// The priority this instance advertises and elects with: the effective priority, or
    /// with `balance` the one its node's load gives it (`balance::priority`).
    pub fn election_priority(&self) -> u8 {
        if self.config.balance {
            self.balance.priority()
        } else {
            self.effective_priority()
        }
    }

    /// With `balance`: whether this node granted this instance its move in progress.
    pub fn balance_granted(&self) -> bool {
        self.balance.granted()
    }

    /// With `balance`, while it wants its router and waits for the node's grant: the
    /// priority its master advertises.
    pub fn balance_candidate(&self) -> Option<u8> {
        if self.running && self.state == State::Backup {
            self.balance.candidate()
        } else {
            None
        }
    }

    /// The primary address: the source of our adverts and our side of the tie-break.
    pub fn primary(&self) -> IpAddr {
        self.primary
    }

    /// The interval of the master we follow (our own when master).
    pub fn master_adver_interval(&self) -> Centisecs {
        if self.state == State::Master {
            self.config.advert_interval
        } else {
            self.master_adver_interval
        }
    }

    pub fn status(&self) -> InstanceStatus {
        InstanceStatus {
            name: self.config.name.clone(),
            vrid: self.config.vrid,
            state: self.state,
            base_priority: self.config.priority,
            effective_priority: self.effective_priority(),
            election_priority: self.election_priority(),
            master: self.master,
            primary: self.primary,
            advert_interval: self.config.advert_interval,
            // A master's is its own (RFC 9568 §6.1: Active_Adver_Interval is the interval the
            // Active Router advertises at).
            master_adver_interval: if self.state == State::Master {
                self.config.advert_interval
            } else {
                self.master_adver_interval
            },
            last_transition: self.last_transition.clone(),
            checksum_form: self.v3_over_ipv4().then_some(self.checksum_form),
            counters: self.counters.clone(),
        }
    }

    /// The next effect to carry out, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The earliest deadline at which [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.adver_timer,
            self.master_down_timer,
            self.garp.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Master => {
                if let Some(due) = self.adver_timer.filter(|t| *t <= now) {
                    self.advertise();
                    self.adver_timer = Some(next_advert(
                        due,
                        now,
                        self.config.advert_interval.as_duration(),
                    ));
                }
                for repeat in self.garp.due(&self.config.garp, now) {
                    self.push_gratuitous(repeat);
                }
            }
            State::Backup => {
                if self.master_down_timer.is_some_and(|t| t <= now) {
                    let reason = match self.resigned_by {
                        Some(master) => Reason::MasterResigned { master },
                        None => Reason::MasterDown,
                    };
                    if self.config.sync_group.is_some() {
                        // keepalived's vrrp_sync_can_goto_master: wait for every member
                        // (prefer backup to thrashing); check again after another interval.
                        self.wants_master = Some(reason);
                        self.master_down_timer = Some(now + self.master_down_interval());
                        self.outputs.push_back(Output::SyncWantsMaster);
                    } else {
                        self.become_master(now, reason);
                    }
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// Handles one event at `now`.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::Startup => self.startup(now),
            Input::Resume => {
                // Not with AH (keepalived refuses initial state MASTER with AH for the same
                // reason): a new process counts AH sequence numbers from 0, which the backups,
                // holding the last number we sent, would refuse as replays until they took
                // over themselves. Start as BACKUP and learn the number from the next master.
                if !self.running && self.fault_reason().is_none() && !self.uses_ah() {
                    self.running = true;
                    self.become_master(now, Reason::Resumed);
                } else {
                    self.startup(now);
                }
            }
            Input::Shutdown => self.shutdown(now),
            Input::Advert {
                src,
                advert,
                checksum,
            } => self.receive(src, advert, checksum, now),
            Input::RxDecodeError { src, error } => self.rx_decode_error(src, error, now),
            Input::RxSourceNotAllowed { src } => self.refuse(
                src,
                "source_not_allowed",
                "its source is not in this instance's allow-list (advert_sources / \
                 unicast_peer)"
                    .to_string(),
                now,
            ),
            Input::Tracked { index, up } => {
                if self.tracking.set(index, up) {
                    self.reevaluate_fault(now);
                }
            }
            Input::PrimaryAddress(addr) => {
                self.primary = addr;
                if self.state == State::Master {
                    self.master = Some(addr);
                }
            }
            Input::Group(cmd) => self.group(cmd, now),
            Input::NodeLoad {
                other_masters,
                hysteresis,
            } => {
                if !self.config.balance {
                    return;
                }
                let following = (self.running && self.state == State::Backup)
                    .then(|| self.master.zip(self.master_priority))
                    .flatten();
                let step = self.balance.set_view(other_masters, hysteresis, following);
                self.balance_step(step, now);
            }
            Input::BalanceGrant => {
                if self.config.balance && self.running && self.state == State::Backup {
                    self.balance.grant();
                }
            }
        }
    }

    /// Applies a changed configuration in place (reload): no transition unless the change
    /// demands one; a master adds and removes only the addresses and routes that changed.
    /// Tracked objects keep their state by name; see
    /// [`reconfigure_tracked`](Self::reconfigure_tracked) to set it.
    pub fn reconfigure(&mut self, new: InstanceConfig, now: Instant) -> Result<(), ConfigError> {
        new.validate()?;
        let old_tracked = self.config.tracked.clone();
        self.tracking.reconfigure(&old_tracked, &new.tracked);
        self.apply_config(new, now);
        Ok(())
    }

    /// [`reconfigure`](Self::reconfigure) with the state of each tracked object of the new
    /// configuration given (`up[i]` for `new.tracked[i]`; missing ones count as up), as the
    /// [`Router`](super::Router) knows them by key: fault and priority are judged on those.
    pub fn reconfigure_tracked(
        &mut self,
        new: InstanceConfig,
        up: &[bool],
        now: Instant,
    ) -> Result<(), ConfigError> {
        new.validate()?;
        self.tracking = Tracking::new(&new.tracked);
        for (index, up) in up.iter().enumerate() {
            self.tracking.set(index, *up);
        }
        self.apply_config(new, now);
        Ok(())
    }

    fn apply_config(&mut self, new: InstanceConfig, now: Instant) {
        let old = std::mem::replace(&mut self.config, new);
        if let ChecksumPolicy::Fixed(form) = self.config.v3_checksum {
            self.checksum_form = form;
        }
        if self.state == State::Master {
            let old_addrs = all_addresses(&old);
            let new_addrs = all_addresses(&self.config);
            let gone: Vec<VirtualAddress> = difference(&old_addrs, &new_addrs);
            let added: Vec<VirtualAddress> = difference(&new_addrs, &old_addrs);
            let gone_routes: Vec<VirtualRoute> = difference(&old.routes, &self.config.routes);
            let new_routes: Vec<VirtualRoute> = difference(&self.config.routes, &old.routes);
            if !gone_routes.is_empty() {
                self.outputs.push_back(Output::RemoveRoutes(gone_routes));
            }
            if !gone.is_empty() {
                self.outputs.push_back(Output::RemoveAddresses(gone));
            }
            if !added.is_empty() {
                self.outputs.push_back(Output::AddAddresses(added));
                // As keepalived 2.2.7 (vrrp.c `clear_diff_vrrp`): a reload that adds an
                // address announces every address again, garp_master_repeat times, at once
                // (no garp_master_delay batch), and the refresh timer starts over.
                self.garp.restart_refresh(&self.config.garp, now);
                self.push_gratuitous(self.config.garp.master_repeat);
            }
            if !new_routes.is_empty() {
                self.outputs.push_back(Output::AddRoutes(new_routes));
            }
            if old.accept_mode != self.config.accept_mode {
                self.outputs.push_back(Output::SetOwnership {
                    owned: true,
                    accept: self.config.accept_mode,
                });
            }
            let next = now + self.config.advert_interval.as_duration();
            self.adver_timer = Some(self.adver_timer.map_or(next, |t| t.min(next)));
        }
        if self.state == State::Backup && self.config.version == Version::V2 {
            self.master_adver_interval = self.config.advert_interval;
        }
        if !self.config.balance {
            self.balance.forget();
        }
        if self.running {
            self.reevaluate_fault(now);
        }
    }

    // ---- events -------------------------------------------------------------------------

    fn startup(&mut self, now: Instant) {
        if self.running {
            return;
        }
        self.running = true;
        if let Some(object) = self.fault_reason() {
            self.enter_fault(now, object);
        } else if self.effective_priority() == 255 {
            self.become_master(now, Reason::StartupOwner);
        } else if self.config.initial_state == InitialState::Master {
            self.become_master(now, Reason::StartupWantMaster);
        } else {
            self.become_backup(now, Reason::Startup, self.config.advert_interval);
            // Listen at least `startup_delay` before claiming anything: a master that
            // advertises less often than we do may not have spoken yet (the adverts reset the
            // timer as usual, so this only matters while nothing is heard).
            let listen_until = now + self.config.startup_delay;
            if let Some(t) = self.master_down_timer.as_mut() {
                *t = (*t).max(listen_until);
            }
        }
    }

    fn shutdown(&mut self, now: Instant) {
        if !self.running {
            return;
        }
        self.running = false;
        let from = self.state;
        self.transition(now, State::Initialize, Reason::Shutdown);
        if from == State::Master {
            self.release(true);
        } else {
            // Stopping as BACKUP or FAULT: nothing of ours should be up, but a killed earlier
            // run may have left addresses that outlived a failed cleanup; none stay behind.
            self.clear_leftovers();
        }
        self.clear_timers();
        self.master = None;
        self.master_priority = None;
        self.finish_transition();
    }

    fn receive(&mut self, src: IpAddr, advert: Advert, checksum: ChecksumForm, now: Instant) {
        if !self.running || advert.vrid != self.config.vrid || src == self.primary {
            // Not started, not ours (the driver dispatches by VRID), or our own advert
            // looped back: nothing to act on.
            return;
        }
        let priority = self.election_priority();
        let accepted =
            match receive::check(&self.config, priority, src, &advert, &mut self.ah_sequence) {
                Ok(a) => a,
                Err(e) => {
                    self.refuse(src, e.kind(), e.to_string(), now);
                    return;
                }
            };
        self.counters.adverts_rx += 1;
        self.highest_peer_priority = self.highest_peer_priority.max(advert.priority);
        if advert.priority == 0 {
            self.counters.priority_zero_rx += 1;
        }
        if accepted.address_list_differs {
            self.counters.rx_errors.bump("address_list");
            if let Some(suppressed) = self.notices.admit("address_list", now) {
                let ours = self.config.virtual_addresses.iter().map(|a| a.addr);
                self.outputs.push_back(Output::Notice(Notice::Rejected {
                    from: src,
                    kind: "address_list",
                    reason: format!(
                        "not refused, but it lists {} where this instance lists {} \
                         (RFC 9568 §7.1: misconfiguration)",
                        list(advert.addresses.iter().copied()),
                        list(ours),
                    ),
                    suppressed,
                }));
            }
        }
        let v3 = self.config.version == Version::V3;
        if advert.priority != 0 {
            self.follow_checksum_form(src, checksum);
            if v3
                && advert.interval != self.config.advert_interval
                && let Some(suppressed) = self.notices.admit("interval_differs", now)
            {
                self.outputs
                    .push_back(Output::Notice(Notice::IntervalDiffers {
                        from: src,
                        theirs: advert.interval,
                        ours: self.config.advert_interval,
                        suppressed,
                    }));
            }
        }
        match self.state {
            State::Backup => {
                self.ah_sequence.clear_cycled();
                if advert.priority == 0 {
                    if self.master.is_some_and(|m| m != src) {
                        // A resignation from a router that is not the master we follow is
                        // stale (reordered behind the new master's adverts): acting on it
                        // would start a second master.
                        self.counters.rx_errors.bump("stale_resignation");
                        return;
                    }
                    // RFC 5798 §6.4.2: the master resigned; take over after Skew_Time.
                    self.master_down_timer = Some(
                        now + skew_time(self.config.version, priority, self.master_adver_interval),
                    );
                    self.resigned_by = Some(src);
                } else if self.config.balance {
                    // Never RFC preemption: follow, and take the router over by balancing
                    // when our node is less loaded than the master's (see `balance`).
                    self.follow(src, &advert, now);
                    let step = self.balance.on_advert(src, advert.priority);
                    self.balance_step(step, now);
                } else if !self.config.preempt
                    || advert.priority >= priority
                    || self.preempt_delay_holds(now)
                {
                    self.follow(src, &advert, now);
                    if advert.priority >= priority {
                        self.preempt_deadline = None;
                    }
                }
                // Else: a lower-priority master and we preempt: discard, so that our
                // Master_Down_Timer fires and we take over.
            }
            State::Master => {
                // A balanced master is, until its next scheduled advert, the priority it
                // advertised in its last one, whatever its node's load does meanwhile: it
                // judges others by it (what a backup that takes its router over compared
                // with) and answers with it, so that masters meeting at once all judge the
                // same values and the highest steps down nobody but the others.
                let ours = match self.advertised {
                    Some(p) if self.config.balance => p,
                    _ => priority,
                };
                if advert.priority == 0 {
                    // Another router resigned: assert ourselves at once.
                    self.send_advert(ours);
                    self.adver_timer = Some(now + self.config.advert_interval.as_duration());
                } else if advert.priority > ours || (advert.priority == ours && src > self.primary)
                {
                    let reason = if advert.priority > ours {
                        Reason::HigherPriority {
                            from: src,
                            priority: advert.priority,
                        }
                    } else {
                        Reason::HigherAddress {
                            from: src,
                            priority: advert.priority,
                        }
                    };
                    let interval = if v3 {
                        advert.interval
                    } else {
                        self.config.advert_interval
                    };
                    self.ah_sequence.clear_cycled();
                    self.become_backup(now, reason, interval);
                    self.master = Some(src);
                    self.master_priority = Some(advert.priority);
                } else {
                    // A lower master (split brain healing). With AH, number our adverts past
                    // its own, or it would refuse them as replays (keepalived's rule).
                    if let Auth::Ah { seq, .. } = advert.auth {
                        self.ah_sequence.follow_lower_master(seq);
                    }
                    if self
                        .last_reassert
                        .is_none_or(|t| now >= t + self.config.advert_interval.as_duration())
                    {
                        // The RFC discards; like keepalived (unless `lower_prio_no_advert`)
                        // we also advertise at once so it steps down without waiting for our
                        // next interval. At most once per interval, so a peer that never
                        // yields cannot turn this into a storm.
                        self.last_reassert = Some(now);
                        self.send_advert(ours);
                        self.adver_timer = Some(now + self.config.advert_interval.as_duration());
                    }
                }
            }
            State::Initialize | State::Fault => {}
        }
    }

    /// A backup follows the master that sent `advert` from `src`: adopts its interval (v3)
    /// and times it out from now.
    fn follow(&mut self, src: IpAddr, advert: &Advert, now: Instant) {
        if self.config.version == Version::V3 {
            self.master_adver_interval = advert.interval;
        }
        self.master = Some(src);
        self.master_priority = Some(advert.priority);
        self.master_down_timer = Some(now + self.master_down_interval());
        self.resigned_by = None;
        self.wants_master = None;
    }

    /// Carries out what balancing decided (see `balance`).
    fn balance_step(&mut self, step: Step, now: Instant) {
        match step {
            Step::Nothing => {}
            Step::Ask => self.outputs.push_back(Output::BalanceWanted),
            Step::TakeOver {
                from,
                from_load,
                to_load,
            } => self.become_master(
                now,
                Reason::Balance {
                    from,
                    from_load,
                    to_load,
                },
            ),
        }
    }

    fn group(&mut self, cmd: GroupCommand, now: Instant) {
        match cmd {
            GroupCommand::Master { group, member } => {
                if self.running && self.state == State::Backup {
                    let reason = self
                        .wants_master
                        .take()
                        .unwrap_or(Reason::SyncGroup { group, member });
                    self.become_master(now, reason);
                }
            }
            GroupCommand::Backup { group, member } => {
                if self.state == State::Master {
                    let interval = self.config.advert_interval;
                    self.become_backup(now, Reason::SyncGroup { group, member }, interval);
                }
            }
            GroupCommand::Fault { group, member } => {
                self.group_fault = true;
                if self.running && matches!(self.state, State::Backup | State::Master) {
                    self.enter_fault_with(now, Reason::SyncGroup { group, member });
                }
            }
            GroupCommand::FaultCleared { .. } => {
                self.group_fault = false;
                self.reevaluate_fault(now);
            }
        }
    }

    // ---- what we say about received adverts ------------------------------------------

    fn rx_decode_error(&mut self, src: IpAddr, error: DecodeError, now: Instant) {
        let reason = match error {
            DecodeError::Checksum { .. } if self.v3_over_ipv4() => format!(
                "{error}: it matches neither VRRPv3 IPv4 form, {} nor {}",
                ChecksumForm::WithPseudoHeader.describe(),
                ChecksumForm::MessageOnly.describe()
            ),
            _ => error.to_string(),
        };
        self.refuse(src, error.kind(), reason, now);
    }

    /// Counts a refused advert under `kind` and logs it, rate-limited.
    fn refuse(&mut self, from: IpAddr, kind: &'static str, reason: String, now: Instant) {
        self.counters.rx_errors.bump(kind);
        if let Some(suppressed) = self.notices.admit(kind, now) {
            self.outputs.push_back(Output::Notice(Notice::Rejected {
                from,
                kind,
                reason,
                suppressed,
            }));
        }
    }

    /// A valid advert (priority > 0) from `src` arrived with its checksum in `form`: with
    /// `v3_checksum = auto` we send what the routers we hear send (the master we follow, or
    /// the one competing with us); otherwise we say once per peer that it differs.
    fn follow_checksum_form(&mut self, src: IpAddr, form: ChecksumForm) {
        if !self.v3_over_ipv4() || form == self.checksum_form {
            return;
        }
        let ours = self.checksum_form;
        let following = self.config.v3_checksum == ChecksumPolicy::Auto;
        if following {
            self.checksum_form = form;
        }
        if self.notices.first_checksum_note(src, form) {
            self.outputs.push_back(Output::Notice(Notice::ChecksumForm {
                peer: src,
                theirs: form,
                ours,
                following,
            }));
        }
    }

    fn v3_over_ipv4(&self) -> bool {
        self.config.version == Version::V3 && !self.config.is_ipv6()
    }

    // ---- transitions --------------------------------------------------------------------

    fn become_master(&mut self, now: Instant, reason: Reason) {
        self.ah_sequence.becoming_master();
        self.transition(now, State::Master, reason);
        self.wants_master = None;
        self.counters.became_master += 1;
        self.master_down_timer = None;
        self.preempt_deadline = None;
        self.resigned_by = None;
        self.master = Some(self.primary);
        self.master_priority = None;
        self.balance.forget();
        self.outputs.push_back(Output::SetOwnership {
            owned: true,
            accept: self.config.accept_mode,
        });
        let addresses = all_addresses(&self.config);
        self.outputs
            .push_back(Output::AddAddresses(addresses.clone()));
        if !self.config.routes.is_empty() {
            self.outputs
                .push_back(Output::AddRoutes(self.config.routes.clone()));
        }
        self.advertise();
        self.adver_timer = Some(now + self.config.advert_interval.as_duration());
        let repeat = self.garp.start(&self.config.garp, now);
        self.push_gratuitous(repeat);
        self.finish_transition();
    }

    fn become_backup(&mut self, now: Instant, reason: Reason, master_interval: Centisecs) {
        let from = self.state;
        self.transition(now, State::Backup, reason);
        match from {
            State::Master => self.release(false),
            State::Initialize => self.clear_leftovers(),
            _ => {}
        }
        self.clear_timers();
        self.master_adver_interval = master_interval;
        self.master_down_timer = Some(now + self.master_down_interval());
        self.master = None;
        self.master_priority = None;
        self.finish_transition();
    }

    fn enter_fault(&mut self, now: Instant, object: String) {
        self.enter_fault_with(now, Reason::Fault { object });
    }

    fn enter_fault_with(&mut self, now: Instant, reason: Reason) {
        let from = self.state;
        self.transition(now, State::Fault, reason);
        match from {
            // keepalived: leaving MASTER for FAULT sends priority 0 so a backup takes over
            // after Skew_Time instead of Master_Down_Interval.
            State::Master => self.release(true),
            State::Initialize => self.clear_leftovers(),
            _ => {}
        }
        self.clear_timers();
        self.master = None;
        self.master_priority = None;
        self.finish_transition();
    }

    fn leave_fault(&mut self, now: Instant) {
        if self.effective_priority() == 255 || self.config.initial_state == InitialState::Master {
            self.become_master(now, Reason::FaultCleared);
        } else {
            self.become_backup(now, Reason::FaultCleared, self.config.advert_interval);
        }
    }

    fn reevaluate_fault(&mut self, now: Instant) {
        if !self.running {
            return;
        }
        match (self.state, self.fault_reason()) {
            (State::Backup | State::Master, Some(object)) => self.enter_fault(now, object),
            (State::Fault, None) => self.leave_fault(now),
            _ => {}
        }
    }

    /// Name of the object (or group) holding the instance in FAULT.
    fn fault_reason(&self) -> Option<String> {
        if let Some(o) = self.tracking.fault(&self.config.tracked) {
            return Some(o.name.clone());
        }
        self.group_fault.then(|| "sync group".to_string())
    }

    // ---- helpers ------------------------------------------------------------------------

    fn transition(&mut self, now: Instant, to: State, reason: Reason) {
        let from = self.state;
        self.state = to;
        self.last_transition = Some((now, reason.clone()));
        self.outputs.push_back(Output::Transition {
            from,
            to,
            reason,
            at: now,
        });
    }

    fn finish_transition(&mut self) {
        self.outputs.push_back(Output::WriteState(self.state));
        self.outputs.push_back(Output::RunNotify {
            state: self.state,
            priority: self.election_priority(),
        });
    }

    /// Leaving MASTER: ownership first, then (optionally) priority 0, then routes and
    /// addresses.
    fn release(&mut self, resign: bool) {
        self.counters.released_master += 1;
        self.garp.stop();
        self.outputs.push_back(Output::SetOwnership {
            owned: false,
            accept: self.config.accept_mode,
        });
        if resign {
            self.send_advert(0);
        }
        if !self.config.routes.is_empty() {
            self.outputs
                .push_back(Output::RemoveRoutes(self.config.routes.clone()));
        }
        self.outputs
            .push_back(Output::RemoveAddresses(all_addresses(&self.config)));
    }

    /// Starting (or restarting) as anything but MASTER, or stopping as one: a previous run of this instance may
    /// have been killed while master and left its addresses and routes on the interfaces (a
    /// kill -9 runs no release). A backup holding them would answer for them next to the real
    /// master, so they go, as on leaving MASTER (removing what is not there is a no-op).
    fn clear_leftovers(&mut self) {
        self.outputs.push_back(Output::SetOwnership {
            owned: false,
            accept: self.config.accept_mode,
        });
        if !self.config.routes.is_empty() {
            self.outputs
                .push_back(Output::RemoveRoutes(self.config.routes.clone()));
        }
        self.outputs
            .push_back(Output::RemoveAddresses(all_addresses(&self.config)));
    }

    fn clear_timers(&mut self) {
        self.wants_master = None;
        self.balance.forget();
        self.advertised = None;
        self.adver_timer = None;
        self.master_down_timer = None;
        self.preempt_deadline = None;
        self.resigned_by = None;
        self.garp.stop();
    }

    /// How long a master's data-plane ownership may outlive the advert it is about to send:
    /// the Master_Down_Interval of the fastest backup it knows of. A backup takes over one
    /// Master_Down_Interval (with its own priority's skew) after it *received* our last
    /// advert; the lease counts from just *before* we send it. So if no backup has a priority
    /// above the one used here (ours, configured or effective, or the highest any peer ever
    /// advertised), the lease runs out first and two routers never forward at once, while
    /// the silence between fencing and takeover is only the difference in skew (zero for
    /// equal priorities, as Neutron configures them). A backup of higher priority than ours
    /// (that never advertised while we listened) times us out with our skew, not its own
    /// (see `master_down_interval`), so it waits the lease out too.
    ///
    /// A balanced master's is the Master_Down_Interval of `balance::TOP`, the highest
    /// priority any balanced backup can have (see `balance`).
    pub fn fencing_lease(&self) -> Duration {
        if self.config.balance {
            return master_down_interval(
                self.config.version,
                balance::TOP,
                self.config.advert_interval,
            );
        }
        let fastest = self
            .config
            .priority
            .max(self.effective_priority())
            .max(self.highest_peer_priority);
        master_down_interval(self.config.version, fastest, self.config.advert_interval)
    }

    /// Master_Down_Interval, with the skew of our priority, or of the master's when we follow
    /// one of lower priority (nopreempt, preempt_delay, or our priority rose since): that
    /// master's fencing lease was computed without knowing our priority, and its skew is what
    /// it lasts. Timing out on our own (shorter) skew would let us forward up to the skew
    /// difference before a killed master's lease ran out. (A deviation from RFC 9568 §6.1 of
    /// less than one interval, only where the RFC's own election would not make us master.)
    fn master_down_interval(&self) -> Duration {
        let ours = self.election_priority();
        let priority = match self.master_priority {
            Some(theirs) if theirs > 0 && theirs < ours => theirs,
            _ => ours,
        };
        master_down_interval(self.config.version, priority, self.master_adver_interval)
    }

    /// With preempt_delay: tolerate a lower-priority master until the delay, counted from the
    /// first such advert, has passed.
    fn preempt_delay_holds(&mut self, now: Instant) -> bool {
        if self.config.preempt_delay.is_zero() {
            return false;
        }
        let deadline = *self
            .preempt_deadline
            .get_or_insert(now + self.config.preempt_delay);
        now < deadline
    }

    fn uses_ah(&self) -> bool {
        matches!(self.config.auth, Auth::Ah { .. })
    }

    /// A master's scheduled advert (and its first), at the priority it has now.
    fn advertise(&mut self) {
        let priority = self.election_priority();
        self.advertised = Some(priority);
        self.send_advert(priority);
    }

    fn send_advert(&mut self, priority: u8) {
        let auth = if self.uses_ah() {
            self.config.auth.with_seq(self.ah_sequence.next_to_send())
        } else {
            self.config.auth
        };
        self.counters.adverts_tx += 1;
        if priority == 0 {
            self.counters.priority_zero_tx += 1;
        } else if self.state == State::Master {
            self.outputs
                .push_back(Output::RenewLease(self.fencing_lease()));
        }
        let advert = Advert {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            interval: self.config.advert_interval,
            addresses: self
                .config
                .virtual_addresses
                .iter()
                .map(|a| a.addr)
                .collect(),
            auth,
        };
        self.outputs.push_back(Output::SendAdvert {
            advert,
            checksum: self.checksum_form,
        });
    }

    fn push_gratuitous(&mut self, repeat: u32) {
        self.outputs.push_back(Output::SendGratuitous {
            addresses: all_addresses(&self.config)
                .into_iter()
                .map(|a| a.addr)
                .collect(),
            repeat,
        });
    }
}

/// Addresses for a log line: `[a, b]`.
fn list(addresses: impl Iterator<Item = IpAddr>) -> String {
    let all: Vec<String> = addresses.map(|a| a.to_string()).collect();
    format!("[{}]", all.join(", "))
}

/// Advertised and excluded addresses: all that a master configures.
fn all_addresses(config: &InstanceConfig) -> Vec<VirtualAddress> {
    config.all_addresses().cloned().collect()
}

fn difference<T: Clone + PartialEq>(a: &[T], b: &[T]) -> Vec<T> {
    a.iter().filter(|x| !b.contains(x)).cloned().collect()
}

/// The Adver_Timer after an advert that was due at `due` and sent at `now`: one interval
/// after the deadline, not after the (later) moment the timer fired, so that wake-up latency
/// (a millisecond of timer granularity, a busy event loop) does not stretch every interval
/// (at 10 ms adverts that alone sent 10 % fewer adverts than configured). A timer that fired
/// more than an interval late starts afresh from `now` instead of sending a burst.
fn next_advert(due: Instant, now: Instant, interval: Duration) -> Instant {
    let next = due + interval;
    if next > now { next } else { now + interval }
}
