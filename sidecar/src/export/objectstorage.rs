//! HCL for `objectstorage`: an `oci_objectstorage_bucket` in the tenancy's namespace.

use super::{Ctx, ExportError, Rendered, SharedData};
use crate::hcl::Expr;
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    r.data.insert(SharedData::ObjectStorageNamespace);
    let access = r.var(
        format!("{label}_access_type"),
        "string",
        format!("Public access of bucket {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "access_type")?),
    );
    let versioning = r.var(
        format!("{label}_versioning"),
        "string",
        format!("Versioning of bucket {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "versioning")?),
    );
    r.resources.push(
        ctx.resource("oci_objectstorage_bucket", &label)
            .attr("name", Expr::str(label.replace('_', "-")))
            .attr(
                "namespace",
                Expr::raw("data.oci_objectstorage_namespace.ns.namespace"),
            )
            .attr("access_type", access)
            .attr("versioning", versioning),
    );
    r.output(
        format!("{label}_name"),
        format!("Name of bucket {}", c.display_name),
        format!("oci_objectstorage_bucket.{label}.name"),
    );
    Ok(())
}
