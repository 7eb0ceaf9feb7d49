//! Conversions from tfplugin5 messages to the provider's model: the values Terraform sends.
//!
//! This module owns the incoming wire shapes only; checking what a value means is the
//! resource's business.

use galley_proto::tfplugin5 as pb;

use crate::cty::{self, Type, Value};
use crate::diagnostics::Diagnostic;
use crate::resource::ClientCapabilities;

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

/// An identity Terraform sent (`ResourceIdentityData`); absent is null.
pub fn identity(
    data: Option<&pb::ResourceIdentityData>,
    ty: &Type,
    what: &str,
) -> Result<Value, Diagnostic> {
    dynamic_value(data.and_then(|d| d.identity_data.as_ref()), ty, what)
}

/// The capabilities a request carries. A client that sends none (every Terraform before 1.10)
/// supports none of them.
pub fn client_capabilities(c: Option<&pb::ClientCapabilities>) -> ClientCapabilities {
    c.map(|c| ClientCapabilities {
        deferral_allowed: c.deferral_allowed,
        write_only_attributes_allowed: c.write_only_attributes_allowed,
    })
    .unwrap_or_default()
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

    #[test]
    fn absent_capabilities_mean_none_and_absent_identity_is_null() {
        assert_eq!(client_capabilities(None), ClientCapabilities::default());
        let caps = pb::ClientCapabilities {
            deferral_allowed: false,
            write_only_attributes_allowed: true,
        };
        assert!(client_capabilities(Some(&caps)).write_only_attributes_allowed);
        let ty = Type::object([("id", Type::String)]);
        assert_eq!(identity(None, &ty, "identity"), Ok(Value::Null));
        assert_eq!(
            identity(Some(&pb::ResourceIdentityData::default()), &ty, "identity"),
            Ok(Value::Null)
        );
    }
}
