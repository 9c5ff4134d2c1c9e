//! Turning a code into the message a person reads: built-in texts per language with fallback
//! (`fr-CA` → `fr` → `en`), or the caller's own template; SMS sized in segments; email as subject,
//! text and HTML.

mod catalog;
mod render;
mod sms;
mod voice;

pub use catalog::{CATALOG, Texts};
pub use render::{
    CustomTemplate, MessageInput, RenderedMessage, render, render_quietly, texts_for,
};
pub use sms::{MAX_SMS_SEGMENTS, SmsEncoding, SmsSize, sms_size};
pub use voice::{DEFAULT_REPEATS, MAX_REPEATS, MAX_SSML_CHARS, VoiceMessage, render_voice};
