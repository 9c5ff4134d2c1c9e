//! libphonenumber's metadata (the `phonenumber` crate's own) grouped by country calling code, for
//! `domain::phone_metadata`.
//!
//! The crate checks the syntax of every pattern of all 254 regions the first time any number is
//! parsed: some 105 ms of CPU (about 0.7 s at a 256 MB Lambda's CPU share), paid by the first send
//! of every new instance. Grouped, a send builds only its own calling code's regions (+44's four in
//! 3.5 ms, +1's 25 in 11 ms). The crate gives no access to its serialised metadata, so this reads
//! its database back through the getters into the loader's form; `domain::phone_metadata`'s tests
//! check the groups against the crate's database, field by field, for every region.

use std::path::Path;

use phonenumber::metadata::{Database, Descriptor, Format, Metadata, loader};

/// Writes `[(calling code, postcard of that code's regions)]`, each group's regions in the
/// crate's order (the main country first), as postcard, to `out`.
pub fn write(out: &Path) {
    let database = &*phonenumber::metadata::DATABASE;
    // Calling codes have one to three digits. (The database's `iter` would not do: it goes by
    // region id, and the non-geographic entities of +800, +808, +870 ... all have the id "001".)
    let groups: Vec<(u16, Vec<u8>)> = (1..1000)
        .filter_map(|code| Some((code, database.by_code(&code)?)))
        .map(|(code, regions)| {
            let regions: Vec<loader::Metadata> = regions.into_iter().map(to_loader).collect();
            // Every group must load at run time: check it here, where a failure stops the build.
            Database::from(regions.clone()).expect("a calling code's regions load on their own");
            (
                code,
                postcard::to_allocvec(&regions).expect("metadata serialises"),
            )
        })
        .collect();
    let bytes = postcard::to_allocvec(&groups).expect("groups serialise");
    std::fs::write(out, bytes).expect("OUT_DIR is writable");
}

fn to_loader(meta: &Metadata) -> loader::Metadata {
    let d = meta.descriptors();
    let optional = |descriptor: Option<&Descriptor>| descriptor.map(descriptor_of);
    loader::Metadata {
        general: Some(descriptor_of(d.general())),
        fixed_line: optional(d.fixed_line()),
        mobile: optional(d.mobile()),
        toll_free: optional(d.toll_free()),
        premium_rate: optional(d.premium_rate()),
        shared_cost: optional(d.shared_cost()),
        personal_number: optional(d.personal_number()),
        voip: optional(d.voip()),
        pager: optional(d.pager()),
        uan: optional(d.uan()),
        emergency: optional(d.emergency()),
        voicemail: optional(d.voicemail()),
        short_code: optional(d.short_code()),
        standard_rate: optional(d.standard_rate()),
        carrier: optional(d.carrier()),
        no_international: optional(d.no_international()),
        id: Some(meta.id().to_owned()),
        country_code: Some(meta.country_code()),
        international_prefix: meta.international_prefix().map(|r| r.as_str().to_owned()),
        preferred_international_prefix: meta.preferred_international_prefix().map(str::to_owned),
        national_prefix: meta.national_prefix().map(str::to_owned),
        preferred_extension_prefix: meta.preferred_extension_prefix().map(str::to_owned),
        national_prefix_for_parsing: meta
            .national_prefix_for_parsing()
            .map(|r| r.as_str().to_owned()),
        national_prefix_transform_rule: meta.national_prefix_transform_rule().map(str::to_owned),
        formats: meta.formats().iter().map(format_of).collect(),
        international_formats: meta.international_formats().iter().map(format_of).collect(),
        main_country_for_code: meta.is_main_country_for_code(),
        leading_digits: meta.leading_digits().map(|r| r.as_str().to_owned()),
        mobile_number_portable: meta.is_mobile_number_portable(),
        // Only the XML loader reads these (defaults for the elements of one territory).
        defaults: loader::Defaults::default(),
    }
}

fn descriptor_of(descriptor: &Descriptor) -> loader::Descriptor {
    loader::Descriptor {
        national_number: Some(descriptor.national_number().as_str().to_owned()),
        possible_length: descriptor.possible_length().to_vec(),
        possible_local_length: descriptor.possible_local_length().to_vec(),
        example: descriptor.example().map(str::to_owned),
    }
}

fn format_of(format: &Format) -> loader::Format {
    loader::Format {
        pattern: Some(format.pattern().as_str().to_owned()),
        format: Some(format.format().to_owned()),
        leading_digits: format
            .leading_digits()
            .iter()
            .map(|r| r.as_str().to_owned())
            .collect(),
        national_prefix_formatting_rule: format.national_prefix().map(str::to_owned),
        national_prefix_optional_when_formatting: format.is_national_prefix_optional(),
        domestic_carrier: format.domestic_carrier().map(str::to_owned),
    }
}
