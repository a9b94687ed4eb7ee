//! Holds the API's real responses to its own OpenAPI document: each answer's status is
//! documented for its operation and its body fits the documented schema (types, required
//! properties, enums, nullability, `$ref`s, `oneOf`/`anyOf`/`allOf`).

use serde_json::Value;

use crate::api::Answer;

/// The schema at a `$ref` such as `#/components/schemas/Company`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(pointer) => resolve(doc, doc.pointer(&pointer[1..]).expect("a dangling $ref")),
        None => schema,
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other}"),
    }
}

/// Why `value` does not fit `schema`, if it does not.
pub(crate) fn misfit(doc: &Value, schema: &Value, value: &Value, at: &str) -> Option<String> {
    let schema = resolve(doc, schema);
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        if let Some(m) = all.iter().find_map(|s| misfit(doc, s, value, at)) {
            return Some(m);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(any) = schema.get(key).and_then(Value::as_array) {
            let fits = any
                .iter()
                .filter(|s| misfit(doc, s, value, at).is_none())
                .count();
            if fits == 0 || (key == "oneOf" && fits > 1) {
                return Some(format!("{at}: {value} fits {fits} of the {key} schemas"));
            }
        }
    }
    match schema.get("type") {
        Some(Value::String(kind)) if !type_matches(kind, value) => {
            return Some(format!("{at}: {value} is not {kind}"));
        }
        Some(Value::Array(kinds))
            if !kinds
                .iter()
                .any(|k| type_matches(k.as_str().unwrap(), value)) =>
        {
            return Some(format!("{at}: {value} is none of {kinds:?}"));
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Some(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(object) = value.as_object() {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap();
            if !object.contains_key(name) {
                return Some(format!("{at}: required {name} is missing"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in object {
                match properties.get(name) {
                    Some(s) => {
                        if let Some(m) = misfit(doc, s, property, &format!("{at}.{name}")) {
                            return Some(m);
                        }
                    }
                    None => return Some(format!("{at}: {name} is not in the schema")),
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            if let Some(m) = misfit(doc, items, item, &format!("{at}[{i}]")) {
                return Some(m);
            }
        }
    }
    None
}

/// Panics unless `answer` to `method` on the documented `path` is documented and fits.
pub(crate) fn assert_documented(doc: &Value, method: &str, path: &str, answer: &Answer) {
    let operation = &doc["paths"][path][method.to_lowercase()];
    assert!(operation.is_object(), "{method} {path} is not documented");
    let status = answer.status.as_str();
    let response = resolve(doc, &operation["responses"][status]);
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which is not documented: {}",
        answer.body
    );
    let media = answer
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let Some(media) = media else {
        assert!(
            answer.body.is_null(),
            "{method} {path}: a body without a type"
        );
        return;
    };
    let schema = &response["content"][&media]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: {media} is not documented"
    );
    if let Some(m) = misfit(doc, schema, &answer.body, "body") {
        panic!("{method} {path} {status} does not fit its schema: {m}");
    }
}
