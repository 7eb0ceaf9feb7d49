//! Conversions from tfplugin5 messages to the provider's model: the values Terraform sends.
//!
//! This module owns the incoming wire shapes only; checking what a value means is the
//! resource's business.

use galley_proto::tfplugin5 as pb;

use crate::cty::{self, Type, Value};
use crate::diagnostics::Diagnostic;

/// A value Terraform sent, in msgpack (preferred) or JSON. An absent or empty `DynamicValue` is
/// null. `what` names the value in the error.
pub fn dynamic_value(
    dv: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostic> {
    let Some(dv) = dv else {
        return Ok(Value::Null);
    };
    let result = if !dv.msgpack.is_empty() {
        cty::msgpack::decode(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        cty::json::decode(&dv.json, ty)
    } else {
        return Ok(Value::Null);
    };
    result.map_err(|e| {
        Diagnostic::error(
            format!("Failed to decode the {what}"),
            format!(
                "Terraform sent a value this provider could not read: {e}. This is a bug in the \
                 provider or a Terraform version it does not support; please report it."
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgpack_json_and_empty_values_decode() {
        let ty = Type::String;
        let msgpack = pb::DynamicValue {
            msgpack: cty::msgpack::encode(&Value::string("x"), &ty).unwrap(),
            json: Vec::new(),
        };
        let json = pb::DynamicValue {
            msgpack: Vec::new(),
            json: br#""y""#.to_vec(),
        };
        assert_eq!(
            dynamic_value(Some(&msgpack), &ty, "v"),
            Ok(Value::string("x"))
        );
        assert_eq!(dynamic_value(Some(&json), &ty, "v"), Ok(Value::string("y")));
        assert_eq!(dynamic_value(None, &ty, "v"), Ok(Value::Null));
        assert_eq!(
            dynamic_value(Some(&pb::DynamicValue::default()), &ty, "v"),
            Ok(Value::Null)
        );
        let bad = pb::DynamicValue {
            msgpack: vec![0xc1],
            json: Vec::new(),
        };
        let err = dynamic_value(Some(&bad), &ty, "prior state").unwrap_err();
        assert_eq!(err.summary, "Failed to decode the prior state");
    }
}
