//! The event bus: every state change is published here, kept in a bounded history for
//! `since` replay, and fanned out to live subscribers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::broadcast;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Container,
    Image,
    Network,
    Volume,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Container => "container",
            EventKind::Image => "image",
            EventKind::Network => "network",
            EventKind::Volume => "volume",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub action: String,
    /// The object's ID (`sha256:…` for images, 64 hex for containers).
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
    /// Nanoseconds since the Unix epoch.
    pub time_nano: i64,
}

/// How many past events `since` can replay (Docker keeps 256 since 1.10).
const HISTORY: usize = 256;

/// How many bytes of attributes the history keeps at most. Events carry their container's
/// labels, which a client may make a megabyte each: 256 of those would pin 256 MB for good.
/// Ordinary events weigh a few hundred bytes, so this bound is never met by them.
const HISTORY_BYTES: usize = 4 << 20;

impl Event {
    fn weight(&self) -> usize {
        self.attributes
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            + self.action.len()
            + self.actor_id.len()
    }
}

#[derive(Default)]
struct History {
    events: VecDeque<Event>,
    bytes: usize,
}

pub struct EventBus {
    inner: Mutex<History>,
    live: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        let (live, _) = broadcast::channel(1024);
        Self {
            inner: Mutex::new(History {
                events: VecDeque::with_capacity(HISTORY),
                bytes: 0,
            }),
            live,
        }
    }

    pub fn publish(
        &self,
        kind: EventKind,
        action: &str,
        actor_id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let now = jiff::Timestamp::now().as_nanosecond() as i64;
        let mut history = self.inner.lock().expect("lock");
        // Keep times strictly ordered even if the clock steps back.
        let time_nano = history
            .events
            .back()
            .map_or(now, |last| now.max(last.time_nano));
        let event = Event {
            kind,
            action: action.to_string(),
            actor_id: actor_id.to_string(),
            attributes,
            time_nano,
        };
        history.bytes += event.weight();
        history.events.push_back(event.clone());
        while history.events.len() > HISTORY
            || (history.bytes > HISTORY_BYTES && history.events.len() > 1)
        {
            let Some(old) = history.events.pop_front() else {
                break;
            };
            history.bytes -= old.weight();
        }
        let _ = self.live.send(event);
    }

    /// Past events at or after `since_nano`, and a receiver for everything after them. Taken
    /// under one lock so no event is missed or seen twice.
    pub fn subscribe(&self, since_nano: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let history = self.inner.lock().expect("lock");
        let past = match since_nano {
            Some(since) => history
                .events
                .iter()
                .filter(|e| e.time_nano >= since)
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        (past, self.live.subscribe())
    }

    pub fn listeners(&self) -> usize {
        self.live.receiver_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_since_and_streams_after() {
        let bus = EventBus::new();
        bus.publish(EventKind::Image, "tag", "sha256:a", BTreeMap::new());
        let t = bus.subscribe(Some(0)).0[0].time_nano;
        bus.publish(EventKind::Image, "untag", "sha256:a", BTreeMap::new());
        let (past, mut rx) = bus.subscribe(Some(t + 1));
        assert!(past.iter().all(|e| e.time_nano > t));
        bus.publish(EventKind::Image, "delete", "sha256:a", BTreeMap::new());
        assert_eq!(rx.try_recv().unwrap().action, "delete");
        assert_eq!(bus.subscribe(None).0.len(), 0);
    }

    #[test]
    fn history_is_bounded_in_count_and_bytes() {
        let bus = EventBus::new();
        for _ in 0..300 {
            bus.publish(EventKind::Image, "tag", "sha256:a", BTreeMap::new());
        }
        assert_eq!(bus.subscribe(Some(0)).0.len(), HISTORY);
        let big: BTreeMap<String, String> = [("big".to_string(), "x".repeat(1 << 20))].into();
        for _ in 0..10 {
            bus.publish(EventKind::Container, "create", "c", big.clone());
        }
        let past = bus.subscribe(Some(0)).0;
        let bytes: usize = past.iter().map(Event::weight).sum();
        assert!(bytes <= HISTORY_BYTES, "{bytes}");
        assert_eq!(past.last().unwrap().action, "create");
        // The newest event stays, however large.
        let huge: BTreeMap<String, String> = [("big".to_string(), "x".repeat(5 << 20))].into();
        bus.publish(EventKind::Container, "destroy", "c", huge);
        let past = bus.subscribe(Some(0)).0;
        assert_eq!(past.len(), 1);
        assert_eq!(past[0].action, "destroy");
    }
}
