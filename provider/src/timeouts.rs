//! The `timeouts` block of the OCI-backed resources: its schema, the durations it takes
//! (Go's syntax, as in other providers: `90s`, `5m`, `1h30m`), and reading them with defaults.

use std::time::Duration;

use crate::attrs::str_of;
use crate::cty::{Type, Value};
use crate::diagnostics::{Diagnostic, Diagnostics, PathStep};
use crate::schema::{Attribute, Block, NestedBlock, Nesting, Presence};

/// One timeout of a resource: its attribute name, default and what it limits.
#[derive(Clone, Copy, Debug)]
pub struct TimeoutField {
    pub name: &'static str,
    pub default: Duration,
    pub limits: &'static str,
}

/// The `timeouts` block with one optional attribute per field.
pub fn block(fields: &[TimeoutField]) -> NestedBlock {
    NestedBlock {
        type_name: "timeouts",
        nesting: Nesting::Single,
        min_items: 0,
        max_items: 0,
        block: Block {
            description: "How long operations may take, as durations such as `90s`, `5m` or \
                `1h30m`."
                .into(),
            attributes: fields
                .iter()
                .map(|f| {
                    Attribute::new(
                        f.name,
                        Type::String,
                        Presence::Optional,
                        &format!("{} Default `{}`.", f.limits, format_duration(f.default)),
                    )
                })
                .collect(),
            ..Default::default()
        },
    }
}

/// The configured value of `field`, else its default. `resource` is the resource's value
/// (config, plan or state); invalid durations were refused by [`validate`].
pub fn get(resource: &Value, field: &TimeoutField) -> Duration {
    resource
        .get_attr("timeouts")
        .and_then(|t| str_of(t, field.name))
        .and_then(|s| parse_duration(&s).ok())
        .unwrap_or(field.default)
}

/// Checks every known duration of the block.
pub fn validate(config: &Value, fields: &[TimeoutField]) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let Some(block) = config.get_attr("timeouts") else {
        return diags;
    };
    for field in fields {
        let Some(text) = str_of(block, field.name) else {
            continue;
        };
        if let Err(reason) = parse_duration(&text) {
            diags.push(
                Diagnostic::error(
                    "Invalid timeout",
                    format!(
                        "timeouts.{} = {text:?}: {reason}. Use a duration such as \"90s\", \
                         \"5m\" or \"1h30m\".",
                        field.name
                    ),
                )
                .at_path(vec![
                    PathStep::Attr("timeouts".into()),
                    PathStep::Attr(field.name.into()),
                ]),
            );
        }
    }
    diags
}

/// Parses a Go-style duration: one or more `<number><unit>` with units `ms`, `s`, `m`, `h`
/// (decimals allowed). Zero and negative durations are refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if number_len == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("{:?} is not a number", &rest[..number_len]))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("{number} has no unit (ms, s, m or h)")),
            other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    if !(total.is_finite() && total > 0.0 && total < 1e9) {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs_f64(total))
}

/// `1h30m`, `5m`, `90s`: the shortest Go-style spelling of whole seconds.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("m").is_err());
    }

    #[test]
    fn formatting_round_trips() {
        for d in [5, 90, 300, 1800, 5400, 3600] {
            let d = Duration::from_secs(d);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    }

    #[test]
    fn get_reads_the_block_or_the_default() {
        let field = TimeoutField {
            name: "apply",
            default: Duration::from_secs(1800),
            limits: "",
        };
        let with = Value::object([("timeouts", Value::object([("apply", Value::string("2m"))]))]);
        assert_eq!(get(&with, &field), Duration::from_secs(120));
        let without = Value::object([("timeouts", Value::Null)]);
        assert_eq!(get(&without, &field), Duration::from_secs(1800));
        let bad = Value::object([(
            "timeouts",
            Value::object([("apply", Value::string("soon"))]),
        )]);
        assert_eq!(validate(&bad, &[field]).0.len(), 1);
    }
}
