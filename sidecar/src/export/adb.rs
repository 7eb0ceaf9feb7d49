//! HCL for `adb`: an `oci_database_autonomous_database`, with a private endpoint in its subnet
//! when it is connected to one. The admin password is a sensitive variable without a value.

use super::{Ctx, ExportError, Rendered, Variable};
use crate::hcl::Expr;
use crate::model::Component;

/// Autonomous Database names: letters and digits, starting with a letter, at most 30.
fn db_name(label: &str) -> String {
    let mut s: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "db");
    }
    s.truncate(30);
    s
}

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let workload = r.var(
        format!("{label}_db_workload"),
        "string",
        format!("Workload of database {}", c.display_name),
        Expr::str(ctx.cfg_str(c, "db_workload")?),
    );
    let ecpus = r.var(
        format!("{label}_compute_count"),
        "number",
        format!("ECPUs of database {}", c.display_name),
        ctx.cfg_num(c, "compute_count")?,
    );
    let storage = r.var(
        format!("{label}_data_storage_size_in_tbs"),
        "number",
        format!("Storage (TB) of database {}", c.display_name),
        ctx.cfg_num(c, "data_storage_size_in_tbs")?,
    );
    let password = format!("{label}_admin_password");
    r.variables.push(Variable {
        name: password.clone(),
        type_: "string",
        description: format!("ADMIN password of database {}", c.display_name),
        default: Some(Expr::raw("null")),
        sensitive: true,
    });
    let mut b = ctx
        .resource("oci_database_autonomous_database", &label)
        .attr("db_name", Expr::str(db_name(&label)))
        .attr("display_name", Expr::str(&c.display_name))
        .attr("db_workload", workload)
        .attr("compute_model", Expr::str("ECPU"))
        .attr("compute_count", ecpus)
        .attr("data_storage_size_in_tbs", storage)
        .attr("admin_password", Expr::raw(format!("var.{password}")));
    if let Some(subnet) = ctx.connected(c, "subnet").first() {
        b = b.attr("subnet_id", ctx.attr(subnet, "id"));
    }
    r.resources.push(b);
    r.output(
        format!("{label}_id"),
        format!("OCID of database {}", c.display_name),
        format!("oci_database_autonomous_database.{label}.id"),
    );
    Ok(())
}
