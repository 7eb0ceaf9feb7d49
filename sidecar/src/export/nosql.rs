//! HCL for `nosql`: an `oci_nosql_table` with a key/JSON-document schema and provisioned limits.

use super::{Ctx, ExportError, Rendered};
use crate::hcl::{Block, Expr};
use crate::model::Component;

pub fn render(ctx: &Ctx, c: &Component, r: &mut Rendered) -> Result<(), ExportError> {
    let label = ctx.label(c).to_string();
    let reads = r.var(
        format!("{label}_max_read_units"),
        "number",
        format!("Read units of table {}", c.display_name),
        ctx.cfg_num(c, "max_read_units")?,
    );
    let writes = r.var(
        format!("{label}_max_write_units"),
        "number",
        format!("Write units of table {}", c.display_name),
        ctx.cfg_num(c, "max_write_units")?,
    );
    let storage = r.var(
        format!("{label}_max_storage_in_gbs"),
        "number",
        format!("Storage (GB) of table {}", c.display_name),
        ctx.cfg_num(c, "max_storage_in_gbs")?,
    );
    r.resources.push(
        ctx.resource("oci_nosql_table", &label)
            .attr("name", Expr::str(&label))
            .attr(
                "ddl_statement",
                Expr::str(format!(
                    "CREATE TABLE IF NOT EXISTS {label} (id STRING, content JSON, PRIMARY KEY (id))"
                )),
            )
            .block(
                Block::new("table_limits", &[])
                    .attr("max_read_units", reads)
                    .attr("max_write_units", writes)
                    .attr("max_storage_in_gbs", storage),
            ),
    );
    r.output(
        format!("{label}_id"),
        format!("OCID of table {}", c.display_name),
        format!("oci_nosql_table.{label}.id"),
    );
    Ok(())
}
