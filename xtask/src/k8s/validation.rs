//! The API server's syntax rules for names, labels, ports and quantities,
//! which need no cluster. Each follows an upstream file of
//! kubernetes/kubernetes, and its messages use the upstream words:
//!
//! - `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`:
//!   DNS-1123 labels and subdomains, DNS-1035 labels, port numbers, port
//!   names (IANA_SVC_NAME), ConfigMap keys;
//! - `staging/src/k8s.io/apimachinery/pkg/api/validate/content/` (was
//!   validation.go): label keys (qualified names) and label values;
//! - `staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go` and
//!   `suffix.go`: the Quantity grammar.

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = max_len(value, 63);
    if !label_like(value, |c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        if dns1123_subdomain(value).is_empty() {
            errs.push("must not contain dots".into());
        } else {
            errs.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')".into());
        }
    }
    errs
}

/// DNS-1123 labels joined by dots, at most 253 characters.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = max_len(value, 253);
    if !value
        .split('.')
        .all(|part| label_like(part, |c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    {
        errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')".into());
    }
    errs
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters (Service names).
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs = max_len(value, 63);
    let starts_with_letter = value.starts_with(|c: char| c.is_ascii_lowercase());
    if !starts_with_letter || !label_like(value, |c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        errs.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')".into());
    }
    errs
}

/// Non-empty, `end` characters at both ends, `end` or '-' between.
fn label_like(value: &str, end: impl Fn(char) -> bool) -> bool {
    let chars: Vec<char> = value.chars().collect();
    match (chars.first(), chars.last()) {
        (Some(&first), Some(&last)) => {
            end(first) && end(last) && chars.iter().all(|&c| end(c) || c == '-')
        }
        _ => false,
    }
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`: the name part of a label key,
/// and a non-empty label value.
fn qualified_name_part(value: &str) -> bool {
    let chars: Vec<char> = value.chars().collect();
    match (chars.first(), chars.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && chars
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        }
        _ => false,
    }
}

const QUALIFIED_NAME: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc')";

/// A label (or annotation) key: an optional DNS-1123 subdomain prefix and
/// `/`, then a name of at most 63 characters.
pub fn label_key(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let mut errs = Vec::new();
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errs.push("prefix part must be non-empty".into());
        } else {
            errs.extend(
                dns1123_subdomain(prefix)
                    .into_iter()
                    .map(|e| format!("prefix part {e}")),
            );
        }
    }
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
    } else {
        if name.len() > 63 {
            errs.push("name part must be no more than 63 characters".into());
        }
        if !qualified_name_part(name) {
            errs.push(QUALIFIED_NAME.into());
        }
    }
    errs
}

/// A label value: empty, or like a qualified name, at most 63 characters.
pub fn label_value(value: &str) -> Vec<String> {
    let mut errs = max_len(value, 63);
    if !value.is_empty() && !qualified_name_part(value) {
        errs.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345')".into());
    }
    errs
}

/// `IsValidPortNum`: 1 to 65535.
pub fn port_number(port: i32) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".into()]
    }
}

/// `IsValidPortName` (IANA_SVC_NAME, RFC 6335): at most 15 characters of
/// [-a-z0-9], at least one letter, no leading, trailing or double hyphen.
pub fn port_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".into());
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.chars().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `IsConfigMapKey`: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`.
pub fn config_map_key(key: &str) -> Vec<String> {
    let mut errs = max_len(key, 253);
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errs.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'".into(),
        );
    }
    if key == "." || key == ".." {
        errs.push(format!("must not be '{key}'"));
    }
    errs
}

fn max_len(value: &str, max: usize) -> Vec<String> {
    if value.len() > max {
        vec![format!("must be no more than {max} characters")]
    } else {
        Vec::new()
    }
}

/// quantity.go `ErrFormatWrong`, the message the API server gives.
pub const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Parses a Quantity (quantity.go `ParseQuantity`): a signed decimal number
/// (`1`, `1.5`, `.5`, `1.`) and one suffix: binary `Ki Mi Gi Ti Pi Ei`,
/// decimal `n u m "" k M G T P E` (suffix.go), or an exponent `e3`/`E-2`.
/// Returns its value (approximate: for comparisons only).
pub fn quantity(text: &str) -> Result<f64, String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let number_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
        i += 1;
    }
    let number = &text[number_start..i];
    let suffix = &text[i..];
    let well_formed = number.chars().filter(|&c| c == '.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    if !well_formed {
        return Err(QUANTITY_FORMAT.into());
    }
    let mantissa: f64 = format!("{}{number}", &text[..number_start])
        .trim_end_matches('.')
        .parse()
        .map_err(|_| "unable to parse numeric part of quantity".to_string())?;
    let scale = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .filter(|e| {
                    let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
                })
                .and_then(|e| e.parse::<i32>().ok());
            match exponent {
                Some(exponent) => 10f64.powi(exponent),
                None if suffix
                    .chars()
                    .all(|c| "eEinumkKMGTP+-0123456789".contains(c)) =>
                {
                    return Err("unable to parse quantity's suffix".into());
                }
                None => return Err(QUANTITY_FORMAT.into()),
            }
        }
    };
    Ok(mantissa * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_follow_the_apimachinery_grammar() {
        // staging/src/k8s.io/apimachinery/pkg/api/resource/quantity.go and suffix.go
        for (text, value) in [
            ("50m", 0.05),
            ("1", 1.0),
            ("1.5", 1.5),
            (".5", 0.5),
            ("1.", 1.0),
            ("32Mi", 32.0 * 1024.0 * 1024.0),
            ("1Gi", 1024f64.powi(3)),
            ("1G", 1e9),
            ("1k", 1e3),
            ("1e3", 1e3),
            ("1E3", 1e3),
            ("1E", 1e18),
            ("100u", 1e-4),
            ("+2", 2.0),
            ("-1", -1.0),
        ] {
            let parsed =
                quantity(text).unwrap_or_else(|e| panic!("quantity.go accepts {text}: {e}"));
            assert!(
                (parsed - value).abs() <= value.abs() * 1e-12,
                "{text}: {parsed}"
            );
        }
        for text in [
            "32MB", "1K", "1KiB", "one", "", "1.2.3", "Mi", "1e", "1 Mi", "64mi",
        ] {
            assert!(quantity(text).is_err(), "quantity.go refuses {text:?}");
        }
    }

    #[test]
    fn names_follow_apimachinery_validation_go() {
        // staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go
        assert!(dns1123_label("health").is_empty());
        assert!(dns1123_label("123-abc").is_empty());
        assert!(!dns1123_label("Health").is_empty());
        assert!(!dns1123_label("health-").is_empty());
        assert_eq!(dns1123_label("a.b"), ["must not contain dots"]);
        assert!(!dns1123_label(&"a".repeat(64)).is_empty());
        assert!(dns1123_subdomain("health-config.v1").is_empty());
        assert!(!dns1123_subdomain("health_config").is_empty());
        assert!(dns1035_label("health").is_empty());
        assert!(!dns1035_label("1health").is_empty());
        assert!(label_key("app.kubernetes.io/name").is_empty());
        assert!(label_key("tier").is_empty());
        assert!(!label_key("App.io/name").is_empty());
        assert!(!label_key("/name").is_empty());
        assert!(!label_key("name-").is_empty());
        assert!(label_value("").is_empty());
        assert!(label_value("0.1.0").is_empty());
        assert!(!label_value("a b").is_empty());
        assert!(!label_value(&"a".repeat(64)).is_empty());
        assert!(port_name("http").is_empty());
        assert!(port_name("http-metrics").is_empty());
        assert!(!port_name("HTTP").is_empty());
        assert!(!port_name("8000").is_empty());
        assert!(!port_name("http--x").is_empty());
        assert!(!port_name("a-very-long-port-name").is_empty());
        assert!(port_number(8000).is_empty());
        assert!(!port_number(0).is_empty());
        assert!(!port_number(65536).is_empty());
        assert!(config_map_key("RUST_LOG").is_empty());
        assert!(!config_map_key("RUST LOG").is_empty());
    }
}
