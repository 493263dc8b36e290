//! Tracked objects: effective priority from weights, FAULT from weightless objects
//! (keepalived semantics). An address owner (priority 255) keeps 255 whatever the weights.

use super::TrackedObject;

/// Current state of the tracked objects of one instance.
#[derive(Clone, Debug)]
pub struct Tracking {
    up: Vec<bool>,
}

impl Tracking {
    /// All objects start up.
    pub fn new(objects: &[TrackedObject]) -> Self {
        Self {
            up: vec![true; objects.len()],
        }
    }

    /// Records a change; returns whether anything changed. Unknown indexes are ignored.
    pub fn set(&mut self, index: usize, up: bool) -> bool {
        match self.up.get_mut(index) {
            Some(slot) if *slot != up => {
                *slot = up;
                true
            }
            _ => false,
        }
    }

    /// Follows a new configuration (on reload), keeping the state of unchanged names.
    pub fn reconfigure(&mut self, old: &[TrackedObject], new: &[TrackedObject]) {
        self.up = new
            .iter()
            .map(|n| {
                old.iter()
                    .position(|o| o.name == n.name)
                    .and_then(|i| self.up.get(i).copied())
                    .unwrap_or(true)
            })
            .collect();
    }

    /// The first weightless object that is down (the fault reason), if any.
    pub fn fault<'a>(&self, objects: &'a [TrackedObject]) -> Option<&'a TrackedObject> {
        objects
            .iter()
            .zip(&self.up)
            .find(|(o, up)| o.weight == 0 && !**up)
            .map(|(o, _)| o)
    }

    /// Base priority adjusted by the weights, clamped to 1..=254 (255 is never adjusted).
    pub fn effective_priority(&self, base: u8, objects: &[TrackedObject]) -> u8 {
        if base == 255 {
            return 255;
        }
        let delta: i64 = objects
            .iter()
            .zip(&self.up)
            .map(|(o, up)| match (o.weight, *up) {
                (w, true) if w > 0 => i64::from(w),
                (w, false) if w < 0 => i64::from(w),
                _ => 0,
            })
            .sum();
        (i64::from(base) + delta).clamp(1, 254) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, weight: i32) -> TrackedObject {
        TrackedObject {
            name: name.into(),
            weight,
        }
    }

    #[test]
    fn weights_follow_keepalived() {
        let objects = [obj("up-bonus", 10), obj("down-malus", -30), obj("hard", 0)];
        let mut t = Tracking::new(&objects);
        assert_eq!(t.effective_priority(100, &objects), 110);
        assert!(t.set(0, false));
        assert_eq!(t.effective_priority(100, &objects), 100);
        assert!(t.set(1, false));
        assert_eq!(t.effective_priority(100, &objects), 70);
        assert!(t.fault(&objects).is_none());
        assert!(t.set(2, false));
        assert_eq!(t.fault(&objects).unwrap().name, "hard");
        assert!(!t.set(2, false), "no change");
        assert!(!t.set(9, false), "unknown index");
    }

    #[test]
    fn clamped_and_owner_untouched() {
        let objects = [obj("big", -300)];
        let mut t = Tracking::new(&objects);
        t.set(0, false);
        assert_eq!(t.effective_priority(100, &objects), 1);
        assert_eq!(t.effective_priority(255, &objects), 255);
        let objects = [obj("big", 300)];
        let t = Tracking::new(&objects);
        assert_eq!(t.effective_priority(100, &objects), 254);
    }
}
