//! The leading tab: applies followers' changes as the client's own (once each, even when
//! resent), and tells the followers what changed, how far their changes got, the sync
//! status and the sync events.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::{conflicts_json, TabMessage, TabProgress};
use crate::core::error::CoreError;
use crate::core::model::operation::Operation;
use crate::core::sync::SyncClient;
use crate::core::Engine;

/// One applied change of a follower: where it landed in this client's counters.
#[derive(Debug)]
struct Mark {
    tab: String,
    n: u64,
    /// The engine's change counter once it was applied (stored when the write covering
    /// this counter completes).
    changes: u64,
    /// The sequence of its operation (acknowledged when the replica settles it).
    seq: u64,
}

/// The leader's side of the tab protocol.
#[derive(Debug)]
pub struct Leader {
    tab: String,
    marks: VecDeque<Mark>,
    applied_moved: Vec<String>,
    reported: FxHashMap<String, (u64, u64)>,
    status: Option<(String, u64, usize, bool)>,
    outgoing: Vec<TabMessage>,
    /// Whether any follower has spoken: until then there is no one to tell anything.
    followers: bool,
    /// Whether this tab is hidden.
    hidden: bool,
    /// A visible follower claimed the lead while this tab was hidden.
    claimed: bool,
}

impl Leader {
    /// The leader `tab`; it announces itself so followers resend what it may lack.
    pub fn new(tab: &str) -> Self {
        Self {
            tab: tab.to_owned(),
            marks: VecDeque::new(),
            applied_moved: Vec::new(),
            reported: FxHashMap::default(),
            status: None,
            outgoing: vec![TabMessage::Leader {
                tab: tab.to_owned(),
            }],
            followers: false,
            hidden: false,
            claimed: false,
        }
    }

    /// This tab's id.
    pub fn tab(&self) -> &str {
        &self.tab
    }

    /// Applies `tab`'s changes numbered from `first`, skipping those applied before (a
    /// resend). The caller hands what the engine recorded to the sync loop.
    pub fn apply(
        &mut self,
        engine: &mut Engine,
        tab: &str,
        first: u64,
        ops: Vec<Operation>,
    ) -> Vec<CoreError> {
        self.followers = true;
        let done = engine.tab_mark(tab);
        let mut errors = Vec::new();
        let mut n = first;
        let mut ops = ops.into_iter().peekable();
        while let Some(op) = ops.next() {
            // A batch is applied (or skipped) whole.
            let batch = op.batch;
            let mut group = vec![op];
            while batch.is_some() && ops.peek().is_some_and(|next| next.batch == batch) {
                group.extend(ops.next());
            }
            let last = n + group.len() as u64 - 1;
            let changes = if last > done {
                if let Err(error) = engine.apply_tab_ops(group, batch.is_some()) {
                    errors.push(error);
                }
                engine.set_tab_mark(tab, last);
                engine.changes()
            } else {
                // Applied and stored by an earlier leader: the tab still hears how far
                // it got. It is acknowledged once everything recorded so far is.
                0
            };
            self.marks.push_back(Mark {
                tab: tab.to_owned(),
                n: last,
                changes,
                seq: engine.next_seq().saturating_sub(1),
            });
            n = last + 1;
        }
        if !self.applied_moved.iter().any(|t| t == tab) {
            self.applied_moved.push(tab.to_owned());
        }
        errors
    }

    /// This tab became hidden or visible.
    pub fn set_hidden(&mut self, hidden: bool) {
        self.hidden = hidden;
    }

    /// A visible follower claims the lead; a hidden leader agrees.
    pub fn claim(&mut self) {
        self.claimed |= self.hidden;
    }

    /// Whether this tab should hand the lead over (it is hidden and a visible follower
    /// claimed it).
    pub fn should_step_down(&self) -> bool {
        self.claimed && self.hidden
    }

    /// A follower asked for the whole state.
    /// Queues a message for the followers.
    pub fn send(&mut self, message: TabMessage) {
        self.outgoing.push(message);
    }

    pub fn hello(&mut self, engine: &Engine) {
        // The new tab hears the status too.
        self.followers = true;
        self.status = None;
        self.outgoing.push(TabMessage::State {
            applied: engine.tab_marks().to_vec(),
            writes: engine.full_state(),
            full: true,
        });
    }

    /// What to tell the followers now: changed keys (with how far each follower's changes
    /// are applied), progress of their changes, the status when it changed, sync events.
    /// `persisted` is the engine change counter that is stored.
    pub fn take_messages(
        &mut self,
        engine: &mut Engine,
        sync: Option<&SyncClient>,
        persisted: u64,
    ) -> Vec<TabMessage> {
        let mut out = std::mem::take(&mut self.outgoing);
        if !self.followers {
            return out;
        }
        let writes = engine.take_feed();
        if !writes.is_empty() || !self.applied_moved.is_empty() {
            let applied = std::mem::take(&mut self.applied_moved)
                .into_iter()
                .map(|tab| {
                    let n = engine.tab_mark(&tab);
                    (tab, n)
                })
                .collect();
            out.push(TabMessage::State {
                applied,
                writes,
                full: false,
            });
        }
        let tabs = self.progress(sync, persisted);
        if !tabs.is_empty() {
            out.push(TabMessage::Progress { tabs });
        }
        if let Some(status) = self.status_message(engine, sync) {
            out.push(status);
        }
        out.extend(engine.take_forwarded().into_iter().map(TabMessage::Event));
        out
    }

    /// Per tab, the last change stored and the last acknowledged, where either moved.
    fn progress(&mut self, sync: Option<&SyncClient>, persisted: u64) -> Vec<TabProgress> {
        // Both are monotone in mark order: the change counter and the sequence grow.
        let mut moved: FxHashMap<String, (u64, u64)> = FxHashMap::default();
        for mark in &self.marks {
            let stored = mark.changes <= persisted;
            let acked = stored && sync.map_or(true, |s| s.replica().done_through(mark.seq));
            let entry = moved.entry(mark.tab.clone()).or_default();
            if stored {
                entry.0 = mark.n;
            }
            if acked {
                entry.1 = mark.n;
            }
        }
        // Forget changes that are acknowledged: nothing more will be said of them.
        self.marks
            .retain(|m| moved.get(&m.tab).map_or(true, |(_, acked)| m.n > *acked));
        let mut out = Vec::new();
        for (tab, (stored, acked)) in moved {
            let before = self.reported.get(&tab).copied().unwrap_or_default();
            let now = (stored.max(before.0), acked.max(before.1));
            if now != before {
                self.reported.insert(tab.clone(), now);
                out.push(TabProgress {
                    tab,
                    persisted: now.0,
                    acknowledged: now.1,
                });
            }
        }
        out.sort_unstable_by(|a, b| a.tab.cmp(&b.tab));
        out
    }

    fn status_message(&mut self, engine: &Engine, sync: Option<&SyncClient>) -> Option<TabMessage> {
        let status = sync.map_or("synced", |s| s.status().name()).to_owned();
        let outbox = sync.map_or(0, |s| s.replica().len() as u64);
        let held = sync.map_or(0, |s| s.replica().held_ids().len());
        let now = (status.clone(), outbox, held, self.hidden);
        if self.status.as_ref() == Some(&now) {
            return None;
        }
        self.status = Some(now);
        let conflicts = sync
            .map(|s| conflicts_json(&s.pending_conflicts(engine)))
            .unwrap_or_default();
        Some(TabMessage::Status {
            status,
            outbox,
            conflicts,
            hidden: self.hidden,
        })
    }
}
