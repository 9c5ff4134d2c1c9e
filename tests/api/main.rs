//! Integration tests: otp-local over HTTP (a fresh server on a free port per test) and the Lambda
//! handlers fed API Gateway HTTP API (v2) events.

mod abuse;
mod aws;
mod bot_check;
mod calls;
mod challenge_store;
mod concurrency;
mod cors;
mod delivery_events;
mod docs;
mod fault_proxy;
mod faults;
mod guessing;
mod helpers;
mod hot_items;
mod idempotency;
mod lambda_events;
mod logs;
mod mailbox;
mod openapi;
mod proof;
mod resend;
mod segments;
mod send;
mod sms_voice;
mod totp;
mod totp_store;
mod trust_boundary;
mod verify;
mod voice;
