//! Turning a code into the message a person reads or hears: built-in texts per language with fallback
//! (`fr-CA` → `fr` → `en`), or the caller's own template; SMS sized in segments; email as subject,
//! text and HTML.

mod catalog;
mod input;
mod render;
mod sms;
mod template;
mod voice;

pub use catalog::{CATALOG, Texts, texts_for};
pub use input::MessageInput;
pub use render::{RenderedMessage, render, render_quietly};
pub use sms::{MAX_SMS_SEGMENTS, SmsEncoding, SmsSize, sms_size};
pub use template::CustomTemplate;
pub use voice::{DEFAULT_REPEATS, MAX_REPEATS, MAX_SSML_CHARS, VoiceMessage, render_voice};
