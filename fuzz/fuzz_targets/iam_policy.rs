//! Any bytes as an IAM policy document: parsing never panics; a parsed policy survives a round
//! trip through JSON, and evaluating and analyzing it never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tripline_identity::aws::{eval, risk, Catalog, PolicyDocument};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        // URL-encoded documents arrive as strings.
        let text = String::from_utf8_lossy(data);
        let _ = PolicyDocument::parse_any(&serde_json::Value::String(text.into_owned()));
        return;
    };
    let Ok(doc) = PolicyDocument::parse(&json) else { return };
    let again = PolicyDocument::parse(&doc.to_json()).expect("a parsed policy re-parses");
    assert_eq!(again, doc);
    let req = eval::Request::new("s3:GetObject", "arn:aws:s3:::bucket/key")
        .with("aws:SourceIp", &["10.0.0.1"])
        .with("aws:username", &["alice"]);
    let _ = eval::evaluate(&[&doc], None, &req);
    let _ = risk::analyze(Catalog::get(), &doc);
});
