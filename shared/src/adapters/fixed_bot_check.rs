//! A bot check that needs no provider: every token gets the same answer. For tests, and for
//! otp-local's demo without a provider account.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::anyhow;

use crate::domain::{BotCheckProvider, CaptchaToken};
use crate::ports::{BotCheck, BotCheckFuture, BotCheckUnavailable, BotVerdict};

/// What [`FixedBotCheck`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedAnswer {
    /// Every token passes (solved on no particular host).
    Pass,
    /// Every token is refused, as a provider refuses a forged one.
    Refuse,
    /// No verdict, as a provider that does not answer.
    Unavailable,
}

/// Answers every token the same way and counts the questions.
#[derive(Debug)]
pub struct FixedBotCheck {
    answer: FixedAnswer,
    asked: AtomicUsize,
}

impl FixedBotCheck {
    pub fn new(answer: FixedAnswer) -> Self {
        Self {
            answer,
            asked: AtomicUsize::new(0),
        }
    }

    /// How many tokens it was asked about.
    pub fn asked(&self) -> usize {
        self.asked.load(Ordering::Relaxed)
    }
}

impl BotCheck for FixedBotCheck {
    fn verify<'a>(
        &'a self,
        _provider: BotCheckProvider,
        _token: &'a CaptchaToken,
        _remote_ip: Option<IpAddr>,
    ) -> BotCheckFuture<'a> {
        self.asked.fetch_add(1, Ordering::Relaxed);
        let answer = match self.answer {
            FixedAnswer::Pass => Ok(BotVerdict {
                success: true,
                hostname: None,
                error_codes: Vec::new(),
            }),
            FixedAnswer::Refuse => Ok(BotVerdict {
                success: false,
                hostname: None,
                error_codes: vec!["invalid-input-response".to_owned()],
            }),
            FixedAnswer::Unavailable => Err(BotCheckUnavailable(anyhow!("no provider answers"))),
        };
        Box::pin(async move { answer })
    }
}
