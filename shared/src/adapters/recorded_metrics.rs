//! A metrics double: keeps every event for a test to assert on.

use std::sync::{Mutex, PoisonError};

use crate::metrics::{MetricEvent, Metrics};

/// Keeps every event, for tests to assert on.
#[derive(Debug, Default)]
pub struct RecordedMetrics(Mutex<Vec<MetricEvent>>);

impl RecordedMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far, oldest first.
    pub fn events(&self) -> Vec<MetricEvent> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many events so far match, e.g. `count(|e| matches!(e, MetricEvent::CodeLocked))`.
    pub fn count(&self, matching: impl Fn(&MetricEvent) -> bool) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|event| matching(event))
            .count()
    }
}

impl Metrics for RecordedMetrics {
    fn record(&self, event: &MetricEvent) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
    }
}
