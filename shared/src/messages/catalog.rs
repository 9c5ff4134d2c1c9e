//! The built-in message texts. SMS texts keep to the GSM-7 alphabet (so accents GSM-7 lacks are
//! left off, as is usual in SMS) and fit one segment with the longest brand and code.

use crate::domain::Locale;

/// The texts of one language. `*_branded` variants are used when a brand is known.
#[derive(Debug)]
pub struct Texts {
    pub language: &'static str,
    pub sms_branded: &'static str,
    pub sms: &'static str,
    pub subject_branded: &'static str,
    pub subject: &'static str,
    pub intro_branded: &'static str,
    pub intro: &'static str,
    pub expiry: &'static str,
    pub ignore: &'static str,
    /// A voice call's words: after the code, before it is said again, and at the end.
    pub voice_repeat: &'static str,
    pub voice_expiry: &'static str,
    /// The Amazon Polly voice that reads this language (a `VoiceId` of End User Messaging SMS and
    /// Voice v2), and the locale it speaks.
    pub voice_id: &'static str,
    pub voice_locale: &'static str,
}

pub const ENGLISH: Texts = Texts {
    language: "en",
    sms_branded: "{code} is your {brand} verification code. It expires in {minutes} min. Never share it.",
    sms: "{code} is your verification code. It expires in {minutes} min. Never share it.",
    subject_branded: "Your {brand} verification code",
    subject: "Your verification code",
    intro_branded: "Your {brand} verification code is:",
    intro: "Your verification code is:",
    expiry: "This code expires in {minutes} min.",
    ignore: "If you did not ask for this code, you can ignore this email. Never share it with anyone.",
    voice_repeat: "Again, your code is:",
    voice_expiry: "It expires in {minutes} minutes.",
    voice_id: "JOANNA",
    voice_locale: "en-US",
};

pub const CATALOG: &[Texts] = &[
    ENGLISH,
    Texts {
        language: "es",
        sms_branded: "{code} es tu codigo de verificacion de {brand}. Caduca en {minutes} min. No lo compartas.",
        sms: "{code} es tu codigo de verificacion. Caduca en {minutes} min. No lo compartas.",
        subject_branded: "Tu código de verificación de {brand}",
        subject: "Tu código de verificación",
        intro_branded: "Tu código de verificación de {brand} es:",
        intro: "Tu código de verificación es:",
        expiry: "Este código caduca en {minutes} min.",
        ignore: "Si no has solicitado este código, ignora este correo. No lo compartas con nadie.",
        voice_repeat: "Repito, tu código es:",
        voice_expiry: "Caduca en {minutes} minutos.",
        voice_id: "LUCIA",
        voice_locale: "es-ES",
    },
    Texts {
        language: "fr",
        sms_branded: "{code} est votre code de vérification {brand}. Il expire dans {minutes} min. Ne le partagez pas.",
        sms: "{code} est votre code de vérification. Il expire dans {minutes} min. Ne le partagez pas.",
        subject_branded: "Votre code de vérification {brand}",
        subject: "Votre code de vérification",
        intro_branded: "Votre code de vérification {brand} est :",
        intro: "Votre code de vérification est :",
        expiry: "Ce code expire dans {minutes} min.",
        ignore: "Si vous n'avez pas demandé ce code, ignorez cet e-mail. Ne le communiquez à personne.",
        voice_repeat: "Je répète, votre code est :",
        voice_expiry: "Il expire dans {minutes} minutes.",
        voice_id: "LEA",
        voice_locale: "fr-FR",
    },
    Texts {
        language: "de",
        sms_branded: "{code} ist Ihr {brand} Bestätigungscode. Gültig für {minutes} Min. Geben Sie ihn nicht weiter.",
        sms: "{code} ist Ihr Bestätigungscode. Gültig für {minutes} Min. Geben Sie ihn nicht weiter.",
        subject_branded: "Ihr {brand} Bestätigungscode",
        subject: "Ihr Bestätigungscode",
        intro_branded: "Ihr {brand} Bestätigungscode lautet:",
        intro: "Ihr Bestätigungscode lautet:",
        expiry: "Der Code ist {minutes} Min. gültig.",
        ignore: "Wenn Sie diesen Code nicht angefordert haben, ignorieren Sie diese E-Mail. Geben Sie ihn niemals weiter.",
        voice_repeat: "Noch einmal, Ihr Code lautet:",
        voice_expiry: "Er ist {minutes} Minuten gültig.",
        voice_id: "VICKI",
        voice_locale: "de-DE",
    },
    Texts {
        language: "pt",
        sms_branded: "{code} e o seu codigo de verificacao {brand}. Expira em {minutes} min. Nao o compartilhe.",
        sms: "{code} e o seu codigo de verificacao. Expira em {minutes} min. Nao o compartilhe.",
        subject_branded: "O seu código de verificação {brand}",
        subject: "O seu código de verificação",
        intro_branded: "O seu código de verificação {brand} é:",
        intro: "O seu código de verificação é:",
        expiry: "Este código expira em {minutes} min.",
        ignore: "Se não solicitou este código, ignore este e-mail. Nunca o compartilhe com ninguém.",
        voice_repeat: "Repetindo, o seu código é:",
        voice_expiry: "Ele expira em {minutes} minutos.",
        voice_id: "CAMILA",
        voice_locale: "pt-BR",
    },
];

/// The built-in texts for a locale: the full tag, then its language, then English.
pub fn texts_for(locale: &Locale) -> &'static Texts {
    let tag = locale.as_str().to_ascii_lowercase();
    [tag.as_str(), locale.language()]
        .into_iter()
        .find_map(|wanted| CATALOG.iter().find(|t| t.language == wanted))
        .unwrap_or(&ENGLISH)
}
