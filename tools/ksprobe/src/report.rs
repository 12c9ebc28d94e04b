//! Text output: the JSON document every command builds, printed as an indented outline
//! (`key: value`, lists as `- `, keys in the order the command wrote them), so that text
//! and `--json` say the same things.

use serde_json::Value;

pub fn text(doc: &Value) -> String {
    let mut out = String::new();
    render(doc, 0, &mut out);
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("-".into()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            Some(a.iter().filter_map(scalar).collect::<Vec<_>>().join(", "))
        }
        _ => None,
    }
}

fn render(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "error" && v.is_object() {
                    out.push_str(&format!("{pad}error: {}\n", failure_line(v)));
                    continue;
                }
                match scalar(v) {
                    Some(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(v, depth + 1, out);
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match scalar(item) {
                    Some(s) => out.push_str(&format!("{pad}- {s}\n")),
                    None => {
                        out.push_str(&format!("{pad}-\n"));
                        render(item, depth + 1, out);
                    }
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other).unwrap_or_default())),
    }
}

/// One line for a serialised [`crate::errors::Failure`].
pub fn failure_line(e: &Value) -> String {
    let get = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
    let mut s = format!(
        "{} failed: Win32 error {} ({})",
        get("call").as_str().unwrap_or("?"),
        get("win32"),
        get("win32_name").as_str().unwrap_or("?")
    );
    if let (Some(st), Some(name)) = (get("ntstatus").as_u64(), get("ntstatus_name").as_str()) {
        s.push_str(&format!(", NTSTATUS {st:#010x} ({name})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Failure;

    #[test]
    fn outline() {
        let doc = serde_json::json!({
            "filter": "x",
            "pins": [{"id": 0, "flags": ["A", "B"]}],
            "stats": {"error": Failure::new("Get", 22, Some(0xC000_0184))},
        });
        let t = text(&doc);
        assert!(t.contains("filter: x\n"), "{t}");
        assert!(t.contains("pins:\n  -\n    id: 0\n    flags: A, B\n"), "{t}");
        assert!(
            t.contains("error: Get failed: Win32 error 22 (ERROR_BAD_COMMAND), NTSTATUS 0xc0000184 (STATUS_INVALID_DEVICE_STATE)"),
            "{t}"
        );
    }
}
