//! YAML as kubectl reads it: a tree with the line of every node, whose plain
//! scalars are typed by the YAML 1.1 rules of go-yaml v2, then converted to
//! JSON the way sigs.k8s.io/yaml does before anything reaches the API server.
//!
//! Upstream, kubectl turns each document into JSON with
//! `sigs.k8s.io/yaml` `YAMLToJSON` (yaml.go; apimachinery's
//! `pkg/util/yaml` `ToJSON` calls it), which decodes with go-yaml v2 (its
//! fork `goyaml.v2/resolve.go` up to v1.4.0, `go.yaml.in/yaml/v2` from
//! v1.5.0 on, the same rules): an unquoted `yes`, `no`, `on`, `off`,
//! `y`, `n`, `true`, `false` is a boolean, `8000`, `0x1F`, `0777`, `1.0`,
//! `1e3` are numbers, `~`, `null` and nothing are null, and map keys that
//! resolve to numbers or booleans become their text. Quoted and block (`|`,
//! `>`) scalars are always strings. The parser is `saphyr-parser`, which gives
//! every event its position and every scalar its style.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// One node of a document, with its 1-based line in the file.
#[derive(Debug, Clone)]
pub struct Node {
    pub line: usize,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Keys are nodes too, for their line and their typing.
    Map(Vec<(Node, Node)>),
}

/// A scalar as written, and what kubectl reads it as.
#[derive(Debug, Clone)]
pub struct Scalar {
    pub text: String,
    /// Written without quotes and not as a `|`/`>` block: typed by YAML 1.1 rules.
    pub plain: bool,
    pub value: Typed,
}

/// The type go-yaml v2 gives a scalar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Typed {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str,
}

impl Typed {
    /// "a number", "a boolean", ... for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Typed::Null => "null (no value)",
            Typed::Bool(_) => "a boolean",
            Typed::Int(_) | Typed::UInt(_) | Typed::Float(_) => "a number",
            Typed::Str => "a string",
        }
    }
}

impl Node {
    /// The entry `key` of a mapping: (key node, value node). The last one
    /// wins, as in go-yaml v2 (duplicate keys overwrite).
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .rev()
                .find(|(k, _)| key_string(k).as_deref() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    pub fn item(&self, index: usize) -> Option<&Node> {
        match &self.kind {
            Kind::Seq(items) => items.get(index),
            _ => None,
        }
    }

    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// A YAML syntax error: the 1-based file line and what is wrong.
#[derive(Debug)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// Parses one document (`text` starts at file line `first_line + 1`).
/// `Ok(None)`: the document holds only comments.
pub fn parse(text: &str, first_line: usize) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder {
        first_line,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            line: e.marker().line() + first_line,
            message: e.info().to_string(),
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

struct Builder {
    first_line: usize,
    /// Open collections: (node, anchor id, pending key of a mapping).
    stack: Vec<(Node, usize, Option<Node>)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), SyntaxError> {
        let line = span.start.line() + self.first_line;
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                let value = match tag.as_deref() {
                    // `!!str 8000`, `!!int "8000"`: an explicit core tag.
                    Some(tag) if tag.is_yaml_core_schema() => match tag.suffix.as_str() {
                        "str" | "binary" | "timestamp" => Typed::Str,
                        "int" | "float" | "bool" | "null" => {
                            let typed = resolve(&text);
                            let fits = matches!(
                                (tag.suffix.as_str(), typed),
                                ("int", Typed::Int(_) | Typed::UInt(_))
                                    | ("float", Typed::Int(_) | Typed::UInt(_) | Typed::Float(_))
                                    | ("bool", Typed::Bool(_))
                                    | ("null", Typed::Null)
                            );
                            if !fits {
                                // goyaml.v2/resolve.go: "cannot decode !!str `x` as a !!int"
                                return Err(SyntaxError {
                                    line,
                                    message: format!(
                                        "cannot decode `{text}` as a !!{}",
                                        tag.suffix
                                    ),
                                });
                            }
                            typed
                        }
                        _ => Typed::Str,
                    },
                    // Any other tag (`!foo`) leaves the text a string.
                    Some(_) => Typed::Str,
                    None if plain => resolve(&text),
                    None => Typed::Str,
                };
                let node = Node {
                    line,
                    kind: Kind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain,
                        value,
                    }),
                };
                self.push(node, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((
                    Node {
                        line,
                        kind: Kind::Seq(Vec::new()),
                    },
                    anchor,
                    None,
                ));
                Ok(())
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((
                    Node {
                        line,
                        kind: Kind::Map(Vec::new()),
                    },
                    anchor,
                    None,
                ));
                Ok(())
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, _) = self.stack.pop().expect("balanced events");
                self.push(node, anchor)
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => self.push(node.clone(), 0),
                None => Err(SyntaxError {
                    line,
                    message: "an alias to an unknown anchor".into(),
                }),
            },
            _ => Ok(()),
        }
    }

    fn push(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some((parent, _, pending)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Kind::Scalar(_) => unreachable!("scalars hold nothing"),
            },
        }
        Ok(())
    }
}

/// goyaml.v2/resolve.go `resolve` for an untagged plain scalar.
pub fn resolve(text: &str) -> Typed {
    // The first byte decides what to try ("resolveTable").
    let hint = match text.bytes().next() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return Typed::Str,
    };
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Typed::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Typed::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Typed::Null,
        ".nan" | ".NaN" | ".NAN" => return Typed::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Typed::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Typed::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match hint {
        b'.' => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Typed::Float(f),
            _ => Typed::Str,
        },
        b'D' | b'S' => {
            // A timestamp (2024-01-02) stays a string when decoded into an
            // interface{}, and cannot be a number: nothing to do for it.
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return i;
            }
            if yaml_style_float(&plain)
                && let Ok(f) = plain.parse::<f64>()
                && f.is_finite()
            {
                return Typed::Float(f);
            }
            Typed::Str
        }
        _ => Typed::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: a sign,
/// then 0x/0o/0b prefixes or a leading 0 for octal.
fn go_parse_int(s: &str) -> Option<Typed> {
    let (negative, signed, rest) = match s.as_bytes().first()? {
        b'-' => (true, true, &s[1..]),
        b'+' => (false, true, &s[1..]),
        _ => (false, false, s),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        let value = -i128::try_from(magnitude).ok()?;
        i64::try_from(value).ok().map(Typed::Int)
    } else if let Ok(i) = i64::try_from(magnitude) {
        Some(Typed::Int(i))
    } else if !signed {
        u64::try_from(magnitude).ok().map(Typed::UInt)
    } else {
        None
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$` (resolve.go `yamlStyleFloat`).
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A mapping key as JSON text (sigs.k8s.io/yaml yaml.go
/// `convertToJSONableObject`: numbers and booleans become their text; a
/// null or collection key cannot be converted).
pub fn key_string(key: &Node) -> Option<String> {
    let s = key.scalar()?;
    Some(match s.value {
        Typed::Str => s.text.clone(),
        Typed::Bool(b) => b.to_string(),
        Typed::Int(i) => i.to_string(),
        Typed::UInt(u) => u.to_string(),
        // strconv.FormatFloat(f, 'g', -1, 32)
        Typed::Float(f) if f.is_nan() => ".nan".into(),
        Typed::Float(f) if f.is_infinite() => if f > 0.0 { ".inf" } else { "-.inf" }.into(),
        Typed::Float(f) => (f as f32).to_string(),
        Typed::Null => return None,
    })
}

/// Keys given twice in one mapping, anywhere below `node`: (key, first
/// line, line of the repeat). go-yaml v2 keeps the last one unless decoding
/// strictly (goyaml.v2/decode.go `setMapIndex`), and `YAMLToJSON` is not
/// strict.
pub fn duplicate_keys(node: &Node) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    match &node.kind {
        Kind::Scalar(_) => {}
        Kind::Seq(items) => items.iter().for_each(|i| found.extend(duplicate_keys(i))),
        Kind::Map(entries) => {
            let mut seen: HashMap<String, usize> = HashMap::new();
            for (key, value) in entries {
                if let Some(name) = key_string(key).filter(|k| k != "<<") {
                    if let Some(&first) = seen.get(&name) {
                        found.push((name, first, key.line));
                    } else {
                        seen.insert(name, key.line);
                    }
                }
                found.extend(duplicate_keys(value));
            }
        }
    }
    found
}

/// The JSON kubectl sends for `node`; errors name the line.
pub fn to_json(node: &Node) -> Result<serde_json::Value, SyntaxError> {
    use serde_json::Value;
    Ok(match &node.kind {
        Kind::Scalar(s) => match s.value {
            Typed::Null => Value::Null,
            Typed::Bool(b) => Value::Bool(b),
            Typed::Int(i) => Value::from(i),
            Typed::UInt(u) => Value::from(u),
            Typed::Float(f) => float_json(f).ok_or_else(|| SyntaxError {
                line: node.line,
                message: format!(
                    "{} cannot be written as JSON (json: unsupported value)",
                    s.text
                ),
            })?,
            Typed::Str => Value::String(s.text.clone()),
        },
        Kind::Seq(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Kind::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                // `<<: *anchor` merges a mapping (or a list of them) in.
                if key.scalar().is_some_and(|s| s.plain && s.text == "<<") {
                    let merged: Vec<&Node> = match &value.kind {
                        Kind::Seq(items) => items.iter().collect(),
                        _ => vec![value],
                    };
                    for m in merged {
                        if let Value::Object(inner) = to_json(m)? {
                            map.extend(inner);
                        }
                    }
                    continue;
                }
                let Some(name) = key_string(key) else {
                    return Err(SyntaxError {
                        line: key.line,
                        message: "a mapping key that is null or a list cannot be a JSON field name"
                            .into(),
                    });
                };
                map.insert(name, to_json(value)?);
            }
            Value::Object(map)
        }
    })
}

/// Go's `json.Marshal(float64)`: whole numbers below 1e21 are written
/// without a fraction (so `replicas: 3.0` is the integer 3); NaN and
/// infinities are refused.
fn float_json(f: f64) -> Option<serde_json::Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Some((f as i64).into());
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Some((f as u64).into());
        }
    }
    serde_json::Number::from_f64(f).map(serde_json::Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every expectation below is read off goyaml.v2/resolve.go of
    // kubernetes-sigs/yaml (the go-yaml v2 fork kubectl decodes with).
    #[test]
    fn plain_scalars_are_typed_like_go_yaml_v2() {
        for (text, expected) in [
            ("yes", Typed::Bool(true)),
            ("Y", Typed::Bool(true)),
            ("on", Typed::Bool(true)),
            ("NO", Typed::Bool(false)),
            ("n", Typed::Bool(false)),
            ("off", Typed::Bool(false)),
            ("~", Typed::Null),
            ("", Typed::Null),
            ("8000", Typed::Int(8000)),
            ("-12", Typed::Int(-12)),
            ("0x1F", Typed::Int(31)),
            ("0777", Typed::Int(511)),
            ("0b101", Typed::Int(5)),
            ("1_000", Typed::Int(1000)),
            ("18446744073709551615", Typed::UInt(u64::MAX)),
            ("1.0", Typed::Float(1.0)),
            ("1e3", Typed::Float(1000.0)),
            (".5", Typed::Float(0.5)),
            ("08", Typed::Float(8.0)),
            ("info", Typed::Str),
            ("yess", Typed::Str),
            ("0.1.0", Typed::Str),
            ("50m", Typed::Str),
            ("2024-01-02", Typed::Str),
            ("1e999", Typed::Str),
        ] {
            assert_eq!(
                resolve(text),
                expected,
                "goyaml.v2/resolve.go types the plain scalar {text:?} as {expected:?}"
            );
        }
    }

    #[test]
    fn quoted_and_block_scalars_stay_strings_and_lines_are_kept() {
        let text = "a: \"8000\"\nb: '1.0'\nc: |\n  yes\nd: yes\ne: !!str 8000\n";
        let node = parse(text, 10).unwrap().unwrap();
        let json = to_json(&node).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"a": "8000", "b": "1.0", "c": "yes\n", "d": true, "e": "8000"})
        );
        let (key, _) = node.entry("d").unwrap();
        assert_eq!(key.line, 15);
    }

    #[test]
    fn keys_and_whole_floats_convert_as_sigs_k8s_io_yaml_does() {
        // sigs.k8s.io/yaml yaml.go: non-string keys become their text;
        // json.Marshal writes float64(3) as 3.
        let node = parse("yes: 1\n80: 3.0\n", 0).unwrap().unwrap();
        assert_eq!(
            to_json(&node).unwrap(),
            serde_json::json!({"true": 1, "80": 3})
        );
    }

    #[test]
    fn syntax_errors_name_their_file_line() {
        let e = parse("a: 1\nb: [1, 2\n", 4).unwrap_err();
        assert!(e.line >= 6, "{e:?}");
        assert!(parse("# only a comment\n", 0).unwrap().is_none());
    }

    #[test]
    fn duplicate_keys_are_found_and_the_last_one_wins() {
        // goyaml.v2/decode.go setMapIndex: without strict mode the last value wins.
        let node = parse("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", 0)
            .unwrap()
            .unwrap();
        assert_eq!(
            duplicate_keys(&node),
            [("c".to_string(), 3, 4), ("a".to_string(), 1, 5)]
        );
        assert_eq!(
            to_json(&node).unwrap(),
            serde_json::json!({"a": 3, "b": {"c": 2}})
        );
    }

    #[test]
    fn anchors_and_merge_keys() {
        let node = parse("a: &x {p: 1}\nb:\n  <<: *x\n  q: 2\n", 0)
            .unwrap()
            .unwrap();
        assert_eq!(
            to_json(&node).unwrap(),
            serde_json::json!({"a": {"p": 1}, "b": {"p": 1, "q": 2}})
        );
    }
}
