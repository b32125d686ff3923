//! What the checks against vendored JSON schemas share (the CloudNativePG
//! Cluster CRD in `cnpg.rs`, Skaffold's config in `skaffold.rs`): naming a
//! value's JSON type, matching it against a schema's `type`, and the hint
//! for an unknown field.

use serde_json::Value;

use super::parse::distance;

/// A value's JSON type, in words.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Whether `value` is of the schema's `type` (any unknown type fits).
pub fn fits(wanted: &str, value: &Value) -> bool {
    match wanted {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

/// The start of an unknown field's hint: the closest known field ("did you
/// mean ...?"), and all of them when there are at most `list_up_to`.
pub fn suggestion(field: &str, known: &[&str], list_up_to: usize) -> String {
    let lower = field.to_lowercase();
    let close = known
        .iter()
        .map(|k| (distance(&lower, &k.to_lowercase()), *k))
        .filter(|&(d, k)| d <= 2.max(k.len() / 4))
        .min();
    let mut hint = match close {
        Some((_, k)) => format!("did you mean {k}? "),
        None => String::new(),
    };
    let mut fields: Vec<&str> = known.to_vec();
    fields.sort_unstable();
    if fields.len() <= list_up_to {
        hint.push_str(&format!("the fields here are {}; ", fields.join(", ")));
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_is_suggested_and_short_lists_are_listed() {
        let hint = suggestion("instnces", &["storage", "instances"], 12);
        assert_eq!(
            hint,
            "did you mean instances? the fields here are instances, storage; "
        );
        assert_eq!(suggestion("zzz", &["a"; 13], 12), "");
    }
}
