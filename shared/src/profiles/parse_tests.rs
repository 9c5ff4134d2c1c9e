//! The profile file's rules: what loads, what is refused, and the profile and field named.

use super::*;

fn builtin() -> Profile {
    Profile::builtin(
        CodeSpec::default(),
        Ttl::default(),
        5,
        None,
        Locale::default(),
    )
}

fn parse(text: &str) -> Result<Profiles, ProfileError> {
    Profiles::parse(text, builtin())
}

fn refusal(profile: serde_json::Value) -> ProfileError {
    let file = serde_json::json!({"profiles": {"shop": profile}});
    parse(&file.to_string()).expect_err("refused")
}

#[test]
fn the_repository_file_and_the_examples_load() {
    let embedded = parse(EMBEDDED).unwrap();
    assert!(embedded.get(&ProfileName::default()).is_some());
    let repository = parse(include_str!("../../../profiles.json")).unwrap();
    assert!(repository.get(&ProfileName::default()).is_some());
    let examples = parse(include_str!("../../../examples/profiles.json")).unwrap();
    assert_eq!(
        examples.len(),
        11,
        "ten example profiles and the built-in default"
    );
}

#[test]
fn an_empty_file_leaves_the_builtin_default() {
    let profiles = parse(r#"{"profiles": {}}"#).unwrap();
    assert_eq!(profiles.len(), 1);
    let default = profiles.default_profile();
    assert_eq!(default.spec.length.get(), 6);
    assert_eq!(default.ttl.duration().as_secs(), 300);
}

#[test]
fn a_code_weaker_than_six_digits_is_refused_naming_profile_and_field() {
    let error = refusal(serde_json::json!({"length": 5}));
    assert_eq!(
        (error.profile.as_str(), error.field.as_str()),
        ("shop", "length")
    );
    assert!(error.to_string().contains("OWASP"), "{error}");
    // Four letters and digits (31^4 < 10^6) too; five letters (23^5) are stronger than 6 digits.
    let error = refusal(serde_json::json!({"length": 4, "alphabet": "alphanumeric"}));
    assert_eq!(error.field, "length");
    let file = serde_json::json!({"profiles": {"shop": {"length": 5, "alphabet": "letters"}}});
    parse(&file.to_string()).unwrap();
}

#[test]
fn a_lifetime_over_ten_minutes_is_refused() {
    let error = refusal(serde_json::json!({"ttl_seconds": 1200}));
    assert_eq!(error.field, "ttl_seconds");
    assert!(error.detail.contains("NIST"), "{error}");
    let file = serde_json::json!({"profiles": {"shop": {"ttl_seconds": 600}}});
    parse(&file.to_string()).unwrap();
}

#[test]
fn a_profile_sets_its_guess_budget_and_test_destinations_within_bounds() {
    let file = serde_json::json!({"profiles": {"shop": {
        "guess_budget": {"per_network": 5, "lock_minutes": 60, "per_destination": 50},
        "test_destinations": {"review@example.com": "ab12cd34"},
    }}});
    let profiles = parse(&file.to_string()).unwrap();
    let shop = profiles.get(&ProfileName::parse("shop").unwrap()).unwrap();
    assert_eq!(
        shop.guess_budget,
        GuessBudget::new(5, Duration::from_secs(3600), 50).unwrap()
    );
    let review = crate::domain::Destination::parse(Channel::Email, "Review@example.com").unwrap();
    assert_eq!(shop.test_destinations.code_for(&review), Some("AB12CD34"));
    for (budget, field) in [
        (serde_json::json!({"per_network": 11}), "guess_budget"),
        (serde_json::json!({"per_destination": 101}), "guess_budget"),
        (serde_json::json!({"lock_minutes": 5}), "guess_budget"),
    ] {
        let error = refusal(serde_json::json!({"guess_budget": budget}));
        assert_eq!(error.field, field, "{error}");
    }
    let error = refusal(serde_json::json!({"test_destinations": {"+12025550143": "123456"}}));
    assert_eq!(error.field, "test_destinations");
    assert!(!error.detail.contains("123456"), "{error}");
}

#[test]
fn a_profile_may_ask_for_a_bot_check() {
    let file = serde_json::json!({"profiles": {
        "shop": {"bot_check": {"provider": "turnstile", "hostnames": ["Example.com"]}},
        "app": {"bot_check": {"provider": "hcaptcha", "fail_open": true}},
    }});
    let profiles = parse(&file.to_string()).unwrap();
    assert!(profiles.use_bot_checks());
    let shop = profiles.get(&ProfileName::parse("shop").unwrap()).unwrap();
    let check = shop.bot_check.as_ref().unwrap();
    assert_eq!(check.provider, BotCheckProvider::Turnstile);
    assert!(!check.fail_open, "fails closed unless it says otherwise");
    assert_eq!(check.hostnames, ["example.com"]);
    assert!(profiles.default_profile().bot_check.is_none());
    assert!(!parse(r#"{"profiles": {}}"#).unwrap().use_bot_checks());
    for bad in [
        serde_json::json!({"provider": "captchaco"}),
        serde_json::json!({"fail_open": true}),
        serde_json::json!({"provider": "recaptcha", "secret": "x"}),
        serde_json::json!({"provider": "recaptcha", "hostnames": ["https://example.com"]}),
        serde_json::json!({"provider": "recaptcha", "hostnames": ["a.com", "A.com"]}),
    ] {
        let error = refusal(serde_json::json!({"bot_check": bad}));
        assert!(error.field.starts_with("bot_check"), "{error}");
    }
}

#[test]
fn an_sms_template_over_one_segment_is_refused() {
    let long = format!("{{code}} {}", "x".repeat(160));
    let error = refusal(serde_json::json!({"templates": {"sms": {"en": long}}}));
    assert_eq!(error.field, "templates.sms.en");
    assert!(error.detail.contains("segments"), "{error}");
    // UCS-2 counts 70: a Greek text that fits 160 GSM-7 septets does not fit.
    let greek = format!("{{code}} {}", "λ".repeat(70));
    let error = refusal(serde_json::json!({"templates": {"sms": {"el": greek}}}));
    assert_eq!(error.field, "templates.sms.el");
    // The same text with a Web OTP line the profile allows can overflow where it alone fits.
    let near = format!("{{code}} {}", "x".repeat(140));
    let file = serde_json::json!({"profiles": {"shop": {"templates": {"sms": {"en": near}}}}});
    parse(&file.to_string()).unwrap();
    let error = refusal(serde_json::json!({
        "templates": {"sms": {"en": near}},
        "web_otp_origins": ["accounts.example.com"],
    }));
    assert_eq!(error.field, "templates.sms.en");
}

#[test]
fn an_origin_that_is_not_a_host_name_is_refused() {
    for origin in [
        "https://example.com",
        "example.com:443",
        "localhost",
        "10.0.0.1",
    ] {
        let error = refusal(serde_json::json!({"web_otp_origins": [origin]}));
        assert_eq!(error.field, "web_otp_origins", "{origin}");
    }
}

#[test]
fn unknown_fields_and_bad_values_are_named() {
    let error = refusal(serde_json::json!({"lenght": 6}));
    assert_eq!(error.profile, "shop");
    assert!(error.detail.contains("lenght"), "{error}");
    let error = refusal(serde_json::json!({"channels": ["fax"]}));
    assert_eq!(error.field, "channels[0]");
    let error = refusal(serde_json::json!({"android_app_hashes": ["short"]}));
    assert_eq!(error.field, "android_app_hashes");
    let error = refusal(serde_json::json!({"templates": {"sms": {"en": "no code here"}}}));
    assert_eq!(error.field, "templates.sms.en");
    let error = refusal(serde_json::json!({"locales": ["en"], "default_locale": "fr"}));
    assert_eq!(error.field, "default_locale");
    let error = parse(r#"{"profiles": {"Shop!": {}}}"#).unwrap_err();
    assert_eq!(error.field, "(name)");
    // A stranger chooses the purpose; a text may show it only from the profile's own list.
    let error = refusal(serde_json::json!({"templates": {"sms": {"en": "{code} for {purpose}"}}}));
    assert_eq!(error.field, "templates.sms.en");
    let file = serde_json::json!({"profiles": {"shop": {"purposes": ["login"],
        "templates": {"sms": {"en": "{code} for {purpose}"}}}}});
    parse(&file.to_string()).unwrap();
}

#[test]
fn a_file_default_replaces_the_builtin_one() {
    let profiles = parse(r#"{"profiles": {"default": {"length": 8}}}"#).unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles.default_profile().spec.length.get(), 8);
}

#[test]
fn templates_are_found_by_tag_then_language() {
    let file = serde_json::json!({"profiles": {"shop": {"brand": "Shop", "templates": {"sms": {
        "fr": "{code} est votre code {brand}", "en": "{code} is your {brand} code"}}}}});
    let profiles = parse(&file.to_string()).unwrap();
    let shop = profiles.get(&ProfileName::parse("shop").unwrap()).unwrap();
    let fr_ca = Locale::parse("fr-CA").unwrap();
    assert!(shop.template_for(Channel::Sms, &fr_ca).is_some());
    assert!(shop.template_for(Channel::Email, &fr_ca).is_none());
    assert!(
        shop.template_for(Channel::Sms, &Locale::parse("de").unwrap())
            .is_none()
    );
}
