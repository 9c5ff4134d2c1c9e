//! Every profile of a deployment, by name.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Profile;
use crate::domain::{Channel, ProfileName};

/// Every profile of a deployment, by name; `default` always among them.
#[derive(Debug, Clone)]
pub struct Profiles(BTreeMap<ProfileName, Arc<Profile>>);

impl Profiles {
    /// Only the given built-in `default`.
    pub fn only(default: Profile) -> Self {
        let mut map = BTreeMap::new();
        map.insert(default.name.clone(), Arc::new(default));
        Self(map)
    }

    /// Adds `profile`, replacing the one of the same name (a file's `default` replaces the
    /// built-in one).
    pub(super) fn insert(&mut self, profile: Profile) {
        self.0.insert(profile.name.clone(), Arc::new(profile));
    }

    pub fn get(&self, name: &ProfileName) -> Option<&Arc<Profile>> {
        self.0.get(name)
    }

    /// The built-in (or replaced) `default`.
    pub fn default_profile(&self) -> &Arc<Profile> {
        self.0
            .get(&ProfileName::default())
            .expect("`default` is always present")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Profile>> {
        self.0.values()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether any profile asks for a bot check: then the send function needs the bot-check
    /// secret, or it does not start.
    pub fn use_bot_checks(&self) -> bool {
        self.0.values().any(|profile| profile.bot_check.is_some())
    }

    /// Lets `default` send on `channel` too (otp-local's own outbox can "call": see its main.rs).
    pub fn allow_on_default(&mut self, channel: Channel) {
        let default = self
            .0
            .get_mut(&ProfileName::default())
            .expect("`default` is always present");
        if !default.channels.contains(&channel) {
            Arc::make_mut(default).channels.push(channel);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
